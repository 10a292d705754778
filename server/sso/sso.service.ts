import * as oidc from 'openid-client'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { SsoProviderConfig } from '../config.js'
import type { Db } from '../db/connect.js'
import type { Person, Role } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { maskContact, parseContact } from '../identity/contact.js'
import { findContactByValue, insertContact } from '../identity/contact.repository.js'
import { nameFromElsewhere } from '../identity/person.js'
import { findPersonById, insertPerson } from '../identity/person.repository.js'
import { applyAdminContacts } from '../identity/roles.service.js'
import { UserError } from '../lib/errors.js'
import type { SsoClients } from './sso-clients.js'
import { findSsoIdentity, insertSsoIdentity, touchSsoIdentity } from './sso-identity.repository.js'

/** How long a started organisation sign-in may take before its callback is refused. */
export const SSO_LOGIN_TTL_MS = 15 * 60_000

/** What the browser's session keeps between the redirect and the callback (never a token). */
export interface PendingSsoLogin {
  provider: string
  state: string
  nonce: string
  verifier: string
  /** A path on this site to return to afterwards. */
  returnTo: string
  at: number
}

/** Why an organisation sign-in was refused although the provider vouched for the person. */
export type SsoRefusalReason =
  | 'tenant-not-allowed'
  | 'domain-not-allowed'
  | 'email-not-verified'
  | 'deactivated'

/** A refusal with a page of its own: the provider said who they are, and the register says no. */
export class SsoRefusedError extends UserError {
  constructor(
    readonly reason: SsoRefusalReason,
    message: string,
  ) {
    super(403, message)
  }
}

/** The organisation sign-in is required for some roles; codes alone are refused for them. */
export class SsoRequiredError extends UserError {
  constructor(labels: string[]) {
    const how = labels.length ? labels.map((l) => `“${l}”`).join(' or ') : 'your organisation account'
    super(
      403,
      `Reception and admin accounts sign in with their organisation account: use ${how} on the sign-in page.`,
    )
  }
}

/** True when people with this role must sign in through the organisation (SSO_REQUIRED_FOR_ROLES). */
export function ssoRequiredFor(role: Role, requiredRoles: readonly Role[]): boolean {
  return requiredRoles.includes(role)
}

/** SSO_REQUIRED_FOR_ROLES: refuses a sign-in by code (or a personal link) for people with those roles. */
export function assertCodeSignInAllowed(
  role: Role,
  requiredRoles: readonly Role[],
  clients: SsoClients,
): void {
  if (ssoRequiredFor(role, requiredRoles)) throw new SsoRequiredError(clients.providers.map((p) => p.label))
}

/** Only a path on this site: no scheme, no host, no `//evil.example`. */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > 500 || !value.startsWith('/')) return '/'
  // Read the path as a browser would (it drops tabs and newlines and treats \ as /), and keep it
  // only if it stays on this site: "/\t/evil.example" would otherwise become "//evil.example".
  const base = 'http://register.invalid'
  let url: URL
  try {
    url = new URL(value, base)
  } catch {
    return '/'
  }
  const controlOrBackslash = [...value].some((c) => c.charCodeAt(0) < 32 || c === '\\')
  if (url.origin !== base || controlOrBackslash) return '/'
  const path = `${url.pathname}${url.search}${url.hash}`
  return path.startsWith('//') || path.startsWith('/login') ? '/' : path
}

/** The redirect URI registered at the provider for this site. */
export function redirectUri(publicUrl: string, provider: SsoProviderConfig): string {
  return `${publicUrl}/login/sso/${provider.id}/callback`
}

/** Starts the authorization code flow with PKCE, state and nonce: where to send the browser, and what to keep. */
export async function beginSsoLogin(
  clients: SsoClients,
  request: { provider: SsoProviderConfig; publicUrl: string; returnTo: unknown; now: number },
): Promise<{ url: URL; pending: PendingSsoLogin }> {
  const { provider } = request
  const config = await clients.configuration(provider, request.now)
  const verifier = oidc.randomPKCECodeVerifier()
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const parameters: Record<string, string> = {
    redirect_uri: redirectUri(request.publicUrl, provider),
    scope: 'openid email profile',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  }
  // Google shows only accounts of that Workspace domain (the hd claim is still checked afterwards).
  if (provider.type === 'google' && provider.allowedDomains.length === 1)
    parameters.hd = provider.allowedDomains[0]!
  return {
    url: oidc.buildAuthorizationUrl(config, parameters),
    pending: {
      provider: provider.id,
      state,
      nonce,
      verifier,
      returnTo: safeReturnTo(request.returnTo),
      at: request.now,
    },
  }
}

/** What the ID token said about the person, read after openid-client validated it. */
export interface SsoClaims {
  issuer: string
  subject: string
  email: string | null
  emailVerified: boolean
  givenName: string
  familyName: string
  fullName: string
  /** Entra: the tenant the account belongs to. */
  tenant: string | null
  /** Google: the Workspace domain. */
  hostedDomain: string | null
}

const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '')

function readClaims(provider: SsoProviderConfig, claims: oidc.IDToken, defaultRegion: string): SsoClaims {
  const parsed = parseContact(text(claims.email), defaultRegion)
  const email = parsed.ok && parsed.contact.kind === 'email' ? parsed.contact.value : null
  // Entra sends no email_verified: its optional claim xms_edov says the domain owner verified it.
  const emailVerified =
    claims.email_verified === true || (provider.type === 'entra' && claims.xms_edov === true)
  return {
    issuer: claims.iss,
    subject: claims.sub,
    email,
    emailVerified: email !== null && emailVerified,
    givenName: text(claims.given_name),
    familyName: text(claims.family_name),
    fullName: text(claims.name),
    tenant: text(claims.tid) || null,
    hostedDomain: text(claims.hd).toLowerCase() || null,
  }
}

/**
 * The organisation's own rules, after the library checked the token: Entra tenants on the
 * allow-list (the issuer must be that tenant's own), and email domains (Google: the Workspace
 * domain too).
 */
function checkPolicy(provider: SsoProviderConfig, claims: SsoClaims): void {
  if (provider.type === 'entra') {
    const tenant = claims.tenant
    if (
      !tenant ||
      !provider.allowedTenants.includes(tenant) ||
      claims.issuer !== `https://login.microsoftonline.com/${tenant}/v2.0`
    ) {
      throw new SsoRefusedError(
        'tenant-not-allowed',
        `Your Microsoft account belongs to an organisation that cannot sign in here. Sign in with your work account, or ask reception for a code.`,
      )
    }
  }
  if (provider.allowedDomains.length === 0) return
  const domain = claims.email?.split('@')[1] ?? ''
  if (!claims.emailVerified) {
    throw new SsoRefusedError(
      'email-not-verified',
      `${provider.label} did not confirm your email address, so we cannot check that it belongs to your organisation. Sign in with a code instead.`,
    )
  }
  const hostedOk = provider.type !== 'google' || provider.allowedDomains.includes(claims.hostedDomain ?? '')
  if (!provider.allowedDomains.includes(domain) || !hostedOk) {
    throw new SsoRefusedError(
      'domain-not-allowed',
      `Accounts at ${domain || 'that address'} cannot sign in here. Only ${provider.allowedDomains.join(', ')} accounts can; sign in with your work account.`,
    )
  }
}

/**
 * Why openid-client refused, for the audit trail: its code, the innermost message, and the claim
 * that failed (nonce, exp, iss…) which oauth4webapi names somewhere down the error's causes.
 */
function describeFailure(error: unknown): { reason: string; message: string; claim?: string } {
  if (!(error instanceof Error)) return { reason: 'unknown', message: String(error).slice(0, 200) }
  const reason = (error as { code?: string }).code ?? error.name
  let message = error.message
  let claim: string | undefined
  let cause: unknown = error
  for (let depth = 0; depth < 4 && cause && typeof cause === 'object'; depth++) {
    const c = cause as { claim?: unknown; message?: unknown; cause?: unknown }
    if (!claim && typeof c.claim === 'string') claim = c.claim
    if (typeof c.message === 'string') message = c.message
    cause = c.cause
  }
  return { reason, message: message.slice(0, 200), ...(claim ? { claim } : {}) }
}

/** What an organisation sign-in did. */
export interface SsoLoginResult {
  person: Person
  /** identity: the provider account was known; email: linked by a verified email; created: a new person. */
  how: 'identity' | 'email' | 'created'
}

/** What completing a sign-in needs from the app. */
export interface SsoDeps {
  db: Db
  clients: SsoClients
  defaultRegion: string
  adminContacts: readonly string[]
}

/**
 * Finishes the flow: openid-client checks state, PKCE, the code exchange and the ID token
 * (signature by the provider's keys, issuer, audience, expiry, nonce); then the organisation's
 * rules; then the person: the known provider account, else the person whose verified email the
 * provider verified too, else a new person named from the claims. An unverified email never
 * links to somebody else's account. Every outcome is audited.
 */
export async function completeSsoLogin(
  deps: SsoDeps,
  request: {
    provider: SsoProviderConfig
    pending: PendingSsoLogin | undefined
    currentUrl: URL
    now: number
    context: RequestContext
  },
): Promise<SsoLoginResult> {
  const { db } = deps
  const { provider, pending, now, context } = request
  const audit = (personId: number | null, action: string, detail: object) =>
    recordAudit(db, { at: now, personId, action, context, detail: { provider: provider.id, ...detail } })

  if (!pending || pending.provider !== provider.id || now - pending.at > SSO_LOGIN_TTL_MS) {
    await audit(null, 'sso.failed', { reason: pending ? 'expired' : 'no-pending-login' })
    throw new UserError(
      400,
      'That sign-in has expired or was started in another browser. Please start again.',
    )
  }
  const config = await deps.clients.configuration(provider, now)
  let claims: SsoClaims
  try {
    const tokens = await oidc.authorizationCodeGrant(config, request.currentUrl, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    })
    const idToken = tokens.claims()
    if (!idToken) throw new Error('no ID token')
    claims = readClaims(provider, idToken, deps.defaultRegion)
  } catch (error) {
    const { reason, message, claim } = describeFailure(error)
    await audit(null, 'sso.failed', { reason, message, ...(claim ? { claim } : {}) })
    if (error instanceof oidc.AuthorizationResponseError && error.error === 'access_denied') {
      throw new UserError(
        403,
        `The sign-in with ${provider.label} was cancelled. You can try again or sign in with a code.`,
      )
    }
    throw new UserError(
      400,
      `The sign-in with ${provider.label} could not be completed. Please start again, or sign in with a code.`,
    )
  }

  const masked = claims.email ? maskContact(claims.email) : null
  try {
    checkPolicy(provider, claims)
    return await unitOfWork(db, (trx) => linkPerson({ ...deps, db: trx }, provider, claims, now, context))
  } catch (error) {
    if (error instanceof SsoRefusedError) {
      await audit(null, 'sso.refused', {
        reason: error.reason,
        email: masked,
        emailVerified: claims.emailVerified,
        tenant: claims.tenant,
      })
    }
    throw error
  }
}

async function linkPerson(
  deps: SsoDeps,
  provider: SsoProviderConfig,
  claims: SsoClaims,
  now: number,
  context: RequestContext,
): Promise<SsoLoginResult> {
  const { db } = deps
  const email = claims.email
  const masked = email ? maskContact(email) : null
  const detail = { provider: provider.id, email: masked, emailVerified: claims.emailVerified }
  const usable = async (personId: number) => {
    const person = (await findPersonById(db, personId))!
    if (person.deactivated_at !== null)
      throw new SsoRefusedError(
        'deactivated',
        'This account has been deactivated. Please speak to reception.',
      )
    return person
  }
  const signedIn = async (person: Person, how: SsoLoginResult['how']) => {
    await recordAudit(db, {
      at: now,
      personId: person.id,
      action: 'sso.login',
      context,
      detail: { ...detail, how },
    })
    return { person, how }
  }

  const known = await findSsoIdentity(db, claims.issuer, claims.subject)
  if (known) {
    const person = await usable(known.person_id)
    await touchSsoIdentity(db, known.id, { provider: provider.id, email, at: now })
    return signedIn(person, 'identity')
  }
  const tie = (personId: number) =>
    insertSsoIdentity(db, {
      personId,
      provider: provider.id,
      issuer: claims.issuer,
      subject: claims.subject,
      email,
      at: now,
    })

  const owner = email ? await findContactByValue(db, email) : undefined
  if (owner) {
    if (!claims.emailVerified) {
      throw new SsoRefusedError(
        'email-not-verified',
        `${provider.label} did not confirm your email address, so we cannot match it to your account here. Sign in with a code instead, or ask your IT team to send a verified email.`,
      )
    }
    const person = await usable(owner.person_id)
    await tie(person.id)
    return signedIn(person, 'email')
  }

  const name = nameFromElsewhere(
    claims.givenName,
    claims.familyName,
    claims.fullName,
    email?.split('@')[0] ?? '',
  )
  let person = await insertPerson(db, {
    first_name: name.firstName,
    last_name: name.lastName,
    created_at: now,
    updated_at: now,
    deactivated_at: null,
  })
  await tie(person.id)
  await recordAudit(db, {
    at: now,
    personId: person.id,
    action: 'person.created',
    context,
    detail: { ...detail, via: 'sso' },
  })
  if (email && claims.emailVerified) {
    await insertContact(db, { personId: person.id, kind: 'email', value: email, at: now })
    person = await applyAdminContacts(db, {
      person,
      contactValue: email,
      adminContacts: deps.adminContacts,
      at: now,
      context,
    })
  }
  return signedIn(person, 'created')
}
