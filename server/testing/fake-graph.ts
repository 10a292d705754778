import { randomBytes } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { TestContext } from 'node:test'
import { close, listen, type ScriptedReply, sendJson, sendScripted } from './fake-http.js'

/** An email the fake Graph accepted. */
export interface FakeMail {
  sender: string
  to: string[]
  subject: string
  contentType: string
  content: string
  saveToSentItems: unknown
}

/** Test settings that pass the config checks. */
export const FAKE_GRAPH = {
  tenantId: '11111111-2222-3333-4444-555555555555',
  clientId: '66666666-7777-8888-9999-000000000000',
  clientSecret: 'fake~graph~client~secret',
  sender: 'register@example.org',
}

/**
 * A local server speaking the Microsoft identity platform's client-credentials token endpoint
 * (with its OpenID metadata and instance discovery) and Graph's POST /v1.0/users/{id}/sendMail.
 * Tokens can be expired at will; `script()` queues Graph answers (429, 5xx, …).
 */
export class FakeGraph {
  readonly mails: FakeMail[] = []
  /** Tokens issued, oldest first. */
  readonly tokens: string[] = []
  /** sendMail requests, including refused ones. */
  sendRequests = 0
  private readonly live = new Set<string>()
  private readonly scripted: ScriptedReply[] = []

  private constructor(readonly url: string) {}

  /** Starts a fake on a free port; it stops when the test ends. */
  static async start(t: TestContext): Promise<FakeGraph> {
    let fake: FakeGraph | undefined
    const { server, url } = await listen((request, body, response) =>
      fake!.handle(
        request.method ?? 'GET',
        request.url ?? '/',
        request.headers.authorization,
        body,
        response,
      ),
    )
    fake = new FakeGraph(url)
    t.after(() => close(server))
    return fake
  }

  /** Environment variables that point the app at this fake (for both login and Graph). */
  env(): Record<string, string> {
    return {
      GRAPH_TENANT_ID: FAKE_GRAPH.tenantId,
      GRAPH_CLIENT_ID: FAKE_GRAPH.clientId,
      GRAPH_CLIENT_SECRET: FAKE_GRAPH.clientSecret,
      GRAPH_SENDER: FAKE_GRAPH.sender,
      GRAPH_API_BASE_URL: this.url,
      GRAPH_LOGIN_BASE_URL: this.url,
    }
  }

  /** Every token issued so far stops working, as when one expires or is revoked. */
  expireTokens(): void {
    this.live.clear()
  }

  /** Queues answers to sendMail, in order, before answering normally again. */
  script(...replies: ScriptedReply[]): void {
    this.scripted.push(...replies)
  }

  /** The last email sent to an address. */
  lastTo(address: string): FakeMail | undefined {
    return this.mails.findLast((m) => m.to.includes(address))
  }

  private async handle(
    method: string,
    path: string,
    authorization: string | undefined,
    body: string,
    response: ServerResponse,
  ): Promise<void> {
    const login = 'https://login.microsoftonline.com'
    const tenant = FAKE_GRAPH.tenantId
    if (method === 'GET' && path.startsWith('/common/discovery/instance')) {
      sendJson(response, 200, {
        tenant_discovery_endpoint: `${login}/${tenant}/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [
          {
            preferred_network: 'login.microsoftonline.com',
            preferred_cache: 'login.windows.net',
            aliases: ['login.microsoftonline.com', 'login.windows.net'],
          },
        ],
      })
      return
    }
    if (method === 'GET' && path === `/${tenant}/v2.0/.well-known/openid-configuration`) {
      sendJson(response, 200, {
        token_endpoint: `${login}/${tenant}/oauth2/v2.0/token`,
        authorization_endpoint: `${login}/${tenant}/oauth2/v2.0/authorize`,
        end_session_endpoint: `${login}/${tenant}/oauth2/v2.0/logout`,
        issuer: `${login}/${tenant}/v2.0`,
        jwks_uri: `${login}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
      })
      return
    }
    if (method === 'POST' && path.startsWith(`/${tenant}/oauth2/v2.0/token`)) {
      const form = new URLSearchParams(body)
      if (
        form.get('client_id') !== FAKE_GRAPH.clientId ||
        form.get('client_secret') !== FAKE_GRAPH.clientSecret
      ) {
        sendJson(response, 401, {
          error: 'invalid_client',
          error_description: 'AADSTS7000215: Invalid client secret provided.',
          error_codes: [7000215],
        })
        return
      }
      if (
        form.get('grant_type') !== 'client_credentials' ||
        form.get('scope') !== 'https://graph.microsoft.com/.default'
      ) {
        sendJson(response, 400, {
          error: 'invalid_request',
          error_description: 'AADSTS900144: bad grant or scope.',
        })
        return
      }
      const token = `fake-token-${randomBytes(12).toString('hex')}`
      this.tokens.push(token)
      this.live.add(token)
      sendJson(response, 200, {
        token_type: 'Bearer',
        expires_in: 3599,
        ext_expires_in: 3599,
        access_token: token,
      })
      return
    }
    const send = /^\/v1\.0\/users\/([^/]+)\/sendMail$/.exec(path)
    if (method === 'POST' && send) {
      this.sendRequests++
      const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1]
      if (!token || !this.live.has(token)) {
        sendJson(response, 401, {
          error: {
            code: 'InvalidAuthenticationToken',
            message: 'Lifetime validation failed, the token is expired.',
          },
        })
        return
      }
      const scripted = this.scripted.shift()
      if (scripted) {
        await sendScripted(response, scripted, {
          error: { code: 'ServiceUnavailable', message: 'Service unavailable' },
        })
        return
      }
      const sender = decodeURIComponent(send[1]!)
      if (sender !== FAKE_GRAPH.sender) {
        sendJson(response, 404, {
          error: { code: 'ErrorInvalidUser', message: `The requested user '${sender}' is invalid.` },
        })
        return
      }
      const parsed = JSON.parse(body) as {
        message?: {
          subject?: string
          body?: { contentType?: string; content?: string }
          toRecipients?: { emailAddress?: { address?: string } }[]
        }
        saveToSentItems?: unknown
      }
      const to = (parsed.message?.toRecipients ?? []).map((r) => r.emailAddress?.address ?? '')
      if (to.length === 0 || to.some((a) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(a))) {
        sendJson(response, 400, {
          error: { code: 'ErrorInvalidRecipients', message: 'At least one recipient is not valid.' },
        })
        return
      }
      this.mails.push({
        sender,
        to,
        subject: parsed.message?.subject ?? '',
        contentType: parsed.message?.body?.contentType ?? '',
        content: parsed.message?.body?.content ?? '',
        saveToSentItems: parsed.saveToSentItems,
      })
      response.writeHead(202, { 'request-id': randomBytes(8).toString('hex') })
      response.end()
      return
    }
    sendJson(response, 404, { error: { code: 'NotFound', message: `${method} ${path}` } })
  }
}
