import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Role } from '../../db/database.js'
import { requestCode, verifyCode } from '../../identity/code.service.js'
import { displayContact, parseContact } from '../../identity/contact.js'
import { authenticateToken, issueDevice } from '../../identity/device.service.js'
import { NameError } from '../../identity/person.js'
import { UserError } from '../../lib/errors.js'
import { DEVICE_COOKIE } from '../../plugins/auth.js'
import { assertCodeSignInAllowed, SsoRequiredError, safeReturnTo } from '../../sso/sso.service.js'
import { textFields } from '../schemas.js'

type CodeBody = { contact: string }
type VerifyBody = { code: string; firstName?: string; lastName?: string }

/** HTML forms show 400/401 as 422 (re-render with the error); limits and refusals keep their status. */
function formStatus(error: UserError): number {
  return error.statusCode === 400 || error.statusCode === 401 ? 422 : error.statusCode
}

/** Public pages: request a code, type it in, give a name the first time; personal sign-in links. */
export default async function authRoutes(app: FastifyInstance): Promise<void> {
  const { identity, config, db, clock, sso } = app.ctx
  const csrf = { preValidation: app.csrfProtection }
  const strict = (max: number) => ({ rateLimit: { max, timeWindow: '1 minute' } })
  // Code requests and checks keep the site-wide per-address limit (RATE_LIMIT_PER_MINUTE), not a
  // tighter one: a whole office behind one address signs up on roll-out day. What stops abuse is
  // in requestCode/verifyCode (per contact, per address for unknown contacts, a text budget, five
  // tries per code).

  const loginPage = (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('auth/login', {
      kinds: identity.messenger.kinds,
      ssoProviders: sso.providers.map((p) => ({ id: p.id, label: p.label })),
      ...data,
    })
  const refuseCodeOnly = (role: Role) => assertCodeSignInAllowed(role, config.SSO_REQUIRED_FOR_ROLES, sso)

  app.get('/login', async (request, reply) => {
    if (await authenticateToken(db, request.cookies[DEVICE_COOKIE], clock.now()))
      return reply.redirect('/', 303)
    return loginPage(reply)
  })

  app.post<{ Body: CodeBody }>(
    '/login/code',
    { ...csrf, schema: { body: textFields(['contact']) } },
    async (request, reply) => {
      try {
        const contact = await requestCode(identity, {
          contact: request.body.contact,
          purpose: 'login',
          context: request.auditContext,
        })
        request.session.set('pendingContact', contact.value)
        // The code page names the contact; the flash does not repeat it.
        request.flash('info', 'Your code is on its way. It can take a minute to arrive.')
        return reply.redirect('/login/verify', 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(formStatus(error)).headers(error.headers)
        return loginPage(reply, { errors: { contact: error.message }, values: request.body })
      }
    },
  )

  const pendingContact = (request: FastifyRequest) => {
    const value = request.session.get('pendingContact')
    const parsed = value ? parseContact(value, config.DEFAULT_PHONE_REGION) : undefined
    return parsed?.ok ? parsed.contact : undefined
  }

  const signedIn = async (request: FastifyRequest) =>
    Boolean(await authenticateToken(db, request.cookies[DEVICE_COOKIE], clock.now()))

  app.get('/login/verify', async (request, reply) => {
    const contact = pendingContact(request)
    // Back to this page after finishing: this device is signed in already, nothing has expired.
    if (!contact) return reply.redirect((await signedIn(request)) ? '/' : '/login', 303)
    return reply.page('auth/verify', { contact: displayContact(contact), askName: false })
  })

  app.post<{ Body: VerifyBody }>(
    '/login/verify',
    { ...csrf, schema: { body: textFields(['code'], ['firstName', 'lastName'], 300) } },
    async (request, reply) => {
      const contact = pendingContact(request)
      if (!contact) {
        // The form sent again from the back button after signing in: nothing to do, nothing expired.
        if (await signedIn(request)) return reply.redirect('/', 303)
        request.flash('error', 'That sign-in has expired. Enter your email or mobile number again.')
        return reply.redirect('/login', 303)
      }
      const { code, firstName, lastName } = request.body
      try {
        const verified = await verifyCode(identity, {
          contact: contact.value,
          code,
          firstName,
          lastName,
          purpose: 'login',
          context: request.auditContext,
        })
        refuseCodeOnly(verified.person.role)
        const { token } = await issueDevice(db, {
          personId: verified.person.id,
          kind: 'browser',
          at: clock.now(),
          context: request.auditContext,
        })
        request.session.set('pendingContact', undefined)
        reply.setDeviceCookie(token)
        request.flash(
          'info',
          `Welcome${verified.created ? '' : ' back'}, ${verified.person.first_name}. This device will remember you.`,
        )
        const returnTo = safeReturnTo(request.session.get('returnTo'))
        request.session.set('returnTo', undefined)
        return reply.redirect(returnTo, 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        if (error instanceof SsoRequiredError) {
          request.session.set('pendingContact', undefined)
          reply.code(403)
          return reply.page('sso/refused', { message: error.message, reason: 'sso-required' })
        }
        reply.code(formStatus(error)).headers(error.headers)
        const askName = error instanceof NameError
        return reply.page('auth/verify', {
          contact: displayContact(contact),
          askName,
          message: askName ? error.message : undefined,
          errors: askName ? error.errors : { code: error.message },
          values: askName ? request.body : {},
        })
      }
    },
  )

  app.post('/login/resend', csrf, async (request, reply) => {
    const contact = pendingContact(request)
    if (!contact) return reply.redirect('/login', 303)
    try {
      await requestCode(identity, { contact: contact.value, purpose: 'login', context: request.auditContext })
      request.flash('info', 'We sent a new code. Earlier codes no longer work.')
    } catch (error) {
      if (!(error instanceof UserError)) throw error
      request.flash('error', error.message)
    }
    return reply.redirect('/login/verify', 303)
  })

  app.post('/login/restart', csrf, async (request, reply) => {
    request.session.set('pendingContact', undefined)
    return reply.redirect('/login', 303)
  })

  // A personal sign-in link: GET only shows who it is for (so link previews change nothing);
  // one tap on the page's button recognises this device.
  const linkParams = { type: 'object', properties: { token: { type: 'string', maxLength: 100 } } } as const
  const findLink = async (token: string) => {
    const found = await authenticateToken(db, token, clock.now())
    return found?.device.kind === 'link' ? found : undefined
  }

  app.get<{ Params: { token: string } }>(
    '/link/:token',
    { schema: { params: linkParams }, config: strict(20) },
    async (request, reply) => {
      const found = await findLink(request.params.token)
      if (!found) {
        reply.code(404)
        return reply.page('error', {
          status: 404,
          message: 'This sign-in link no longer works. Ask for a code instead.',
        })
      }
      return reply.page('auth/link', { owner: found.person, token: request.params.token })
    },
  )

  app.post<{ Params: { token: string } }>(
    '/link/:token',
    { ...csrf, schema: { params: linkParams }, config: strict(20) },
    async (request, reply) => {
      const found = await findLink(request.params.token)
      if (!found) {
        reply.code(404)
        return reply.page('error', {
          status: 404,
          message: 'This sign-in link no longer works. Ask for a code instead.',
        })
      }
      refuseCodeOnly(found.person.role)
      const { token } = await issueDevice(db, {
        personId: found.person.id,
        kind: 'browser',
        at: clock.now(),
        context: request.auditContext,
      })
      reply.setDeviceCookie(token)
      request.flash('info', `Welcome, ${found.person.first_name}. This device will remember you.`)
      return reply.redirect('/', 303)
    },
  )
}
