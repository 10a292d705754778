import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { RequestContext } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Person, Role } from '../db/database.js'
import type { ActiveDevice } from '../identity/device.repository.js'
import { authenticateToken, findLiveDevice, type LiveDevice } from '../identity/device.service.js'
import { authenticateIntegrationToken } from '../identity/integration-token.service.js'
import { hasRole } from '../identity/roles.js'
import { UserError } from '../lib/errors.js'
import { SsoRequiredError, ssoRequiredFor } from '../sso/sso.service.js'

/** The cookie that recognises a device: a random token, HttpOnly, ~400 days (the browser maximum). */
export const DEVICE_COOKIE = 'br_device'
const DEVICE_COOKIE_MAX_AGE = 400 * 24 * 60 * 60

/**
 * Who a request acts as. A person (device cookie or their own bearer token), or an integration
 * token an admin created: it acts with a role but is nobody, so `request.person` stays null.
 */
export type Principal =
  | { kind: 'person'; role: Role; personId: number }
  | { kind: 'integration'; role: Role; tokenId: number; name: string }

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in person; null for anonymous requests and for integration tokens. */
    person: Person | null
    /** Who the request acts as, with the role that requireRole checks. */
    principal: Principal | null
    device: ActiveDevice | null
    /** IP and user agent for the audit trail (IP honours TRUST_PROXY). */
    auditContext: RequestContext
  }
  interface FastifyReply {
    /** Gives this browser a device token cookie. */
    setDeviceCookie(token: string): FastifyReply
    clearDeviceCookie(): FastifyReply
  }
  interface FastifyInstance {
    /** preHandler for signed-in pages: the device cookie must be live, or the person goes to /login. */
    requireCookiePerson(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /**
     * preHandler for the API: a live bearer token, or 401. A person's token sets request.person;
     * an integration token sets only request.principal (with its role), so role-gated routes
     * (requireRole) accept it and routes about "me" must add requirePerson.
     */
    requireBearerPerson(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** preHandler after requireBearerPerson for routes that act as a person: refuses integration tokens (403). */
    requirePerson(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /**
     * preHandler for role-restricted pages (after requireCookiePerson or requireBearerPerson): a
     * signed-in person without the role gets a clear 403, never a bounce to the login page.
     */
    requireRole(role: Role): (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /**
     * For a request that outlives its checks (an event stream): whether its device is still live
     * and its person still has the role, read afresh. Revocation and role changes take effect.
     */
    cookiePersonStillHasRole(request: FastifyRequest, role: Role): Promise<boolean>
  }
}

const deviceLookups = new WeakMap<FastifyRequest, { token: string; found: Promise<LiveDevice | undefined> }>()

/**
 * This request's lookup of the live device a token stands for, made once: the rate limiter asks
 * first (a live token has a bucket of its own), then the auth check reuses the answer.
 */
export function liveDeviceOf(
  db: Db,
  request: FastifyRequest,
  token: string | undefined,
): Promise<LiveDevice | undefined> {
  const seen = deviceLookups.get(request)
  if (seen && seen.token === token) return seen.found
  const found = findLiveDevice(db, token)
  if (token) deviceLookups.set(request, { token, found })
  return found
}

/** Who is asking: device cookie for pages, bearer token for the API. */
export default fp(
  async (app) => {
    const { db, clock, config, sso } = app.ctx
    app.decorateRequest('person', null)
    app.decorateRequest('device', null)
    app.decorateRequest('principal', null)
    app.decorateRequest('auditContext', {
      getter(this: FastifyRequest) {
        return { ip: this.ip, userAgent: String(this.headers['user-agent'] ?? '').slice(0, 512) }
      },
    })
    app.decorateReply('setDeviceCookie', function (this: FastifyReply, token: string) {
      return this.setCookie(DEVICE_COOKIE, token, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: 'auto',
        maxAge: DEVICE_COOKIE_MAX_AGE,
      })
    })
    app.decorateReply('clearDeviceCookie', function (this: FastifyReply) {
      return this.clearCookie(DEVICE_COOKIE, { path: '/' })
    })

    app.decorate('requireCookiePerson', async (request: FastifyRequest, reply: FastifyReply) => {
      const token = request.cookies[DEVICE_COOKIE]
      const found = await authenticateToken(db, token, clock.now(), liveDeviceOf(db, request, token))
      if (!found) {
        if (token) {
          reply.clearDeviceCookie()
          request.flash('info', 'This device is no longer signed in. Confirm who you are to continue.')
        }
        if (request.method === 'GET') request.session.set('returnTo', request.url)
        return reply.redirect('/login', 303)
      }
      // A browser keeps a cookie 400 days from when it was set, however often it is sent: each use
      // that is recorded (after a minute's pause) sets it again, so a device in use never expires.
      if (found.recorded) reply.setDeviceCookie(token!)
      request.person = found.person
      request.device = found.device
      request.principal = { kind: 'person', role: found.person.role, personId: found.person.id }
    })

    app.decorate('requireBearerPerson', async (request: FastifyRequest) => {
      const header = request.headers.authorization ?? ''
      const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1]
      const found = await authenticateToken(db, token, clock.now(), liveDeviceOf(db, request, token))
      if (found) {
        request.person = found.person
        request.device = found.device
        request.principal = { kind: 'person', role: found.person.role, personId: found.person.id }
        return
      }
      const integration = await authenticateIntegrationToken(db, token, clock.now())
      if (!integration)
        throw new UserError(401, 'Sign in first: send a valid token as "Authorization: Bearer <token>".', {
          'www-authenticate': 'Bearer',
        })
      request.principal = {
        kind: 'integration',
        role: integration.role,
        tokenId: integration.id,
        name: integration.name,
      }
    })

    app.decorate('requirePerson', async (request: FastifyRequest) => {
      if (!request.person)
        throw new UserError(
          403,
          'This needs a person’s own token: integration tokens act with a role, not as somebody.',
        )
    })

    /** Why a principal may not act with a role (on this device), or undefined when it may. */
    const roleRefusal = (principal: Principal, device: ActiveDevice | null, role: Role) => {
      if (!hasRole(principal.role, role)) {
        return new UserError(
          403,
          `This page is for ${role === 'admin' ? 'administrators' : 'reception and fire marshals'}. Ask an administrator if you need access.`,
        )
      }
      // SSO_REQUIRED_FOR_ROLES: a device recognised by a code (before the rule, or before the
      // role was granted) does not open these pages.
      if (
        principal.kind === 'person' &&
        ssoRequiredFor(principal.role, config.SSO_REQUIRED_FOR_ROLES) &&
        device?.signed_in_with !== 'sso'
      ) {
        return new SsoRequiredError(sso.providers.map((p) => p.label))
      }
      return undefined
    }

    app.decorate('requireRole', (role: Role) => async (request: FastifyRequest) => {
      const principal = request.principal
      if (!principal) throw new UserError(401, 'Sign in first.')
      const refusal = roleRefusal(principal, request.device, role)
      if (refusal) throw refusal
    })

    app.decorate('cookiePersonStillHasRole', async (request: FastifyRequest, role: Role) => {
      const found = await authenticateToken(db, request.cookies[DEVICE_COOKIE], clock.now())
      if (!found || found.device.id !== request.device?.id) return false
      const principal: Principal = { kind: 'person', role: found.person.role, personId: found.person.id }
      return roleRefusal(principal, found.device, role) === undefined
    })
  },
  { name: 'auth', dependencies: ['context', 'session'] },
)
