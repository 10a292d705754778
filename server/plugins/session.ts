import csrf from '@fastify/csrf-protection'
import flash from '@fastify/flash'
import formbody from '@fastify/formbody'
import secureSession from '@fastify/secure-session'
import fp from 'fastify-plugin'
import { newSecret } from '../identity/secrets.js'

declare module 'fastify' {
  interface FastifyReply {
    /** A CSRF token for the page or kiosk being answered (starts a session if there is none). */
    csrfToken(): string
  }
}

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
    /** The CSRF secret @fastify/csrf-protection makes and checks tokens with. */
    _csrf: string
  }
}

/** Where the session keeps the CSRF secret (@fastify/csrf-protection's default, kept so that sessions started before stay valid). */
const CSRF_SECRET = '_csrf'
/** The CSRF secret's length in bytes (@fastify/csrf's default: 144 bits). */
const CSRF_SECRET_BYTES = 18

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
      sessionKey: CSRF_SECRET,
      csrfOpts: { secretLength: CSRF_SECRET_BYTES },
      getToken: (req) => csrfFrom(req.body),
    })
    // A session without a secret gets one from our pool of CSPRNG bytes (csrf-protection's own
    // costs a call into OpenSSL each, ~3% of a home page opened without a session cookie); the
    // library still makes and checks every token.
    app.decorateReply('csrfToken', function () {
      if (!this.request.session.get(CSRF_SECRET))
        this.request.session.set(CSRF_SECRET, newSecret(CSRF_SECRET_BYTES))
      return this.generateCsrf()
    })
  },
  { name: 'session', dependencies: ['context'] },
)

function csrfFrom(body: unknown): string | undefined {
  if (body && typeof body === 'object' && '_csrf' in body && typeof body._csrf === 'string') return body._csrf
  return undefined
}
