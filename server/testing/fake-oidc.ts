import { generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import Provider from 'oidc-provider'
import { close, listen, sendJson } from './fake-http.js'

/** What the test OpenID Provider knows about one of its users; the login name is the account id. */
export interface TestAccount {
  email?: string
  email_verified?: boolean
  given_name?: string
  family_name?: string
  name?: string
  /** Entra: the tenant the account belongs to (defaults to the provider's own). */
  tid?: string
  /** Entra: the email's domain owner verified it. */
  xms_edov?: boolean
  /** Google: the Workspace domain. */
  hd?: string
}

/** A JSON Web Key Set with one RSA signing key (shared by every Entra tenant, as Microsoft's are). */
export function signingKeys(): { keys: Record<string, unknown>[] } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    keys: [{ ...privateKey.export({ format: 'jwk' }), kid: `k${Date.now()}`, use: 'sig', alg: 'RS256' }],
  }
}

/** A real OpenID Provider (oidc-provider) on a free port of 127.0.0.1, with a test account store. */
export interface TestOpenIdProvider {
  /** The issuer identifier (the base URL unless one was given). */
  issuer: string
  /** Where it listens. */
  url: string
  accounts: Map<string, TestAccount>
  /**
   * The provider's clock runs this many seconds behind while it answers the token endpoint, so
   * the ID token it signs is already expired when the relying party reads it.
   */
  clockBehindSeconds: number
}

/**
 * Starts oidc-provider with one confidential client, PKCE required, its development login and
 * consent pages (the login name is the account id, any password), and claims in the ID token.
 */
export async function startOpenIdProvider(
  t: TestContext,
  options: {
    clientId: string
    clientSecret: string
    redirectUris: string[]
    accounts?: Record<string, TestAccount>
    /** Another issuer identifier than the base URL (Entra's https://login.microsoftonline.com/<tenant>/v2.0). */
    issuer?: string
    jwks?: { keys: Record<string, unknown>[] }
    tenant?: string
  },
): Promise<TestOpenIdProvider> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const accounts = new Map(Object.entries(options.accounts ?? {}))
  const provider = new Provider(options.issuer ?? url, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: options.jwks ?? signingKeys(),
    cookies: { keys: ['test-op-cookie-key-0123456789'] },
    pkce: { required: () => true },
    // Claims in the ID token itself, as Entra and Google put them (not only at userinfo).
    conformIdTokenClaims: false,
    claims: {
      openid: ['sub', 'tid'],
      email: ['email', 'email_verified', 'xms_edov'],
      profile: ['name', 'given_name', 'family_name', 'hd'],
    },
    findAccount: (_ctx: unknown, id: string) => {
      const account = accounts.get(id)
      if (!account) return undefined
      return {
        accountId: id,
        claims: () => ({ sub: id, ...(options.tenant ? { tid: options.tenant } : {}), ...account }),
      }
    },
    features: { devInteractions: { enabled: true } },
  })
  const op: TestOpenIdProvider = { issuer: provider.issuer, url, accounts, clockBehindSeconds: 0 }
  const handle = provider.callback()
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    if (op.clockBehindSeconds && request.url?.startsWith('/token')) {
      // Only the provider's code runs while the relying party awaits this answer.
      const realNow = Date.now
      Date.now = () => realNow() - op.clockBehindSeconds * 1000
      response.on('close', () => {
        Date.now = realNow
      })
    }
    handle(request, response)
  })
  t.after(() => close(server))
  return op
}

const MICROSOFT = 'https://login.microsoftonline.com'

/**
 * Microsoft Entra ID's multi-tenant endpoints, played locally: /organizations/v2.0 metadata with
 * the `{tenantid}` issuer template, authorize and token endpoints handing over to the signing-in
 * user's home tenant (one oidc-provider per tenant, all signing with the same keys), and the
 * shared keys. `fetch` and `localUrl` map https://login.microsoftonline.com to it.
 */
export async function startFakeEntra(
  t: TestContext,
  tenants: Map<string, TestOpenIdProvider>,
  jwks: { keys: Record<string, unknown>[] },
): Promise<{ home: { tenant: string }; fetch: typeof fetch; localUrl: (url: string) => string }> {
  const home = { tenant: [...tenants.keys()][0]! }
  const publicKeys = {
    keys: jwks.keys.map(({ kty, n, e, kid, use, alg }) => ({ kty, n, e, kid, use, alg })),
  }
  const { server, url } = await listen(async (request, body, response) => {
    const path = new URL(request.url ?? '/', 'http://x').pathname
    const search = new URL(request.url ?? '/', 'http://x').search
    const op = tenants.get(home.tenant)!
    if (path === '/organizations/v2.0/.well-known/openid-configuration') {
      return sendJson(response, 200, {
        issuer: `${MICROSOFT}/{tenantid}/v2.0`,
        authorization_endpoint: `${MICROSOFT}/organizations/oauth2/v2.0/authorize`,
        token_endpoint: `${MICROSOFT}/organizations/oauth2/v2.0/token`,
        jwks_uri: `${MICROSOFT}/organizations/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'email', 'tid', 'name'],
        tenant_region_scope: null,
      })
    }
    if (path === '/organizations/oauth2/v2.0/authorize') {
      response.writeHead(302, { location: `${op.url}/auth${search}` })
      response.end()
      return
    }
    if (path === '/organizations/discovery/v2.0/keys') return sendJson(response, 200, publicKeys)
    if (path === '/organizations/oauth2/v2.0/token' && request.method === 'POST') {
      const answer = await fetch(`${op.url}/token`, {
        method: 'POST',
        headers: { 'content-type': String(request.headers['content-type']) },
        body,
      })
      response.writeHead(answer.status, {
        'content-type': answer.headers.get('content-type') ?? 'application/json',
      })
      response.end(await answer.text())
      return
    }
    return sendJson(response, 404, { error: 'not_found' })
  })
  t.after(() => close(server as Server))
  const localUrl = (target: string) =>
    target.startsWith(MICROSOFT) ? url + target.slice(MICROSOFT.length) : target
  return {
    home,
    localUrl,
    fetch: (input, init) => fetch(localUrl(input instanceof Request ? input.url : String(input)), init),
  }
}

/** A browser-like client for the provider's pages: keeps cookies, does not follow redirects itself. */
export class OpenIdProviderBrowser {
  private readonly cookies = new Map<string, string>()
  constructor(private readonly localUrl: (url: string) => string = (u) => u) {}

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string> } = {},
  ): Promise<Response> {
    const response = await fetch(this.localUrl(url), {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
    })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const at = pair!.indexOf('=')
      const name = pair!.slice(0, at)
      const value = pair!.slice(at + 1)
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return response
  }

  /**
   * From the authorization URL to the redirect back to the relying party: follows the provider's
   * redirects, signs in on its login page as `login`, approves its consent page. Returns the
   * callback URL the provider sent the browser to.
   */
  async signIn(authorizationUrl: string, login: string, redirectPrefix: string): Promise<URL> {
    let next = authorizationUrl
    for (let step = 0; step < 12; step++) {
      if (next.startsWith(redirectPrefix)) return new URL(next)
      const response = await this.request(next)
      const location = response.headers.get('location')
      if (location) {
        next = new URL(location, this.localUrl(next)).href
        continue
      }
      const html = await response.text()
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1]
      if (!action) throw new Error(`the provider showed no form (${response.status}): ${html.slice(0, 300)}`)
      const submit = new URL(action.replace(/&amp;/g, '&'), this.localUrl(next)).href
      const form: Record<string, string> = html.includes('name="login"')
        ? { prompt: 'login', login, password: 'any' }
        : { prompt: 'consent' }
      const posted = await this.request(submit, { method: 'POST', form })
      const after = posted.headers.get('location')
      if (!after)
        throw new Error(
          `the provider did not redirect after ${form.prompt} (${posted.status}): ${(await posted.text()).slice(0, 300)}`,
        )
      next = new URL(after, submit).href
    }
    throw new Error('the provider never redirected back')
  }
}
