import csrf from '@fastify/csrf-protection'
import flash from '@fastify/flash'
import formbody from '@fastify/formbody'
import secureSession from '@fastify/secure-session'
import fp from 'fastify-plugin'

declare module '@fastify/secure-session' {
  interface SessionData {
    /** The contact a code was just sent to, so the code page knows whom it is for. */
    pendingContact: string
    /** A contact being added on the profile page, awaiting its code. */
    pendingAddContact: string
    /** A freshly created personal sign-in link, shown once. */
    newLink: string
    /** The page a signed-out person asked for, to return to after signing in. */
    returnTo: string
  }
}

/**
 * The short-lived encrypted session (flash messages, login progress, CSRF secret). Who a person is
 * lives in the separate device cookie, not here.
 */
export default fp(
  async (app) => {
    await app.register(formbody, { bodyLimit: 16 * 1024 })
    await app.register(secureSession, {
      key: app.ctx.keys.session,
      cookieName: 'br_session',
      expiry: 24 * 60 * 60,
      cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' },
    })
    await app.register(flash)
    await app.register(csrf, {
      sessionPlugin: '@fastify/secure-session',
      getToken: (req) => csrfFrom(req.body),
    })
  },
  { name: 'session', dependencies: ['context'] },
)

function csrfFrom(body: unknown): string | undefined {
  if (body && typeof body === 'object' && '_csrf' in body && typeof body._csrf === 'string') return body._csrf
  return undefined
}
