import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { RequestContext } from '../audit/audit.repository.js'
import type { Device, Person, Role } from '../db/database.js'
import { authenticateToken } from '../identity/device.service.js'
import { hasRole } from '../identity/roles.js'
import { UserError } from '../lib/errors.js'

/** The cookie that recognises a device: a random token, HttpOnly, ~400 days (the browser maximum). */
export const DEVICE_COOKIE = 'br_device'
const DEVICE_COOKIE_MAX_AGE = 400 * 24 * 60 * 60

declare module 'fastify' {
  interface FastifyRequest {
    person: Person | null
    device: Device | null
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
    /** preHandler for the API: a live bearer token, or 401. */
    requireBearerPerson(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /**
     * preHandler for role-restricted pages (after requireCookiePerson or requireBearerPerson): a
     * signed-in person without the role gets a clear 403, never a bounce to the login page.
     */
    requireRole(role: Role): (request: FastifyRequest, reply: FastifyReply) => Promise<void>
  }
}

/** Who is asking: device cookie for pages, bearer token for the API. */
export default fp(
  async (app) => {
    const { db, clock } = app.ctx
    app.decorateRequest('person', null)
    app.decorateRequest('device', null)
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
      const found = await authenticateToken(db, request.cookies[DEVICE_COOKIE], clock.now())
      if (!found) {
        if (request.cookies[DEVICE_COOKIE]) {
          reply.clearDeviceCookie()
          request.flash('info', 'This device is no longer signed in. Confirm who you are to continue.')
        }
        return reply.redirect('/login', 303)
      }
      request.person = found.person
      request.device = found.device
    })

    app.decorate('requireBearerPerson', async (request: FastifyRequest) => {
      const header = request.headers.authorization ?? ''
      const match = /^Bearer\s+(\S+)$/i.exec(header)
      const found = await authenticateToken(db, match?.[1], clock.now())
      if (!found)
        throw new UserError(401, 'Sign in first: send a valid token as "Authorization: Bearer <token>".', {
          'www-authenticate': 'Bearer',
        })
      request.person = found.person
      request.device = found.device
    })

    app.decorate('requireRole', (role: Role) => async (request: FastifyRequest) => {
      if (!request.person) throw new UserError(401, 'Sign in first.')
      if (!hasRole(request.person.role, role)) {
        throw new UserError(
          403,
          `This page is for ${role === 'admin' ? 'administrators' : 'reception and fire marshals'}. Ask an administrator if you need access.`,
        )
      }
    })
  },
  { name: 'auth', dependencies: ['context', 'session'] },
)
