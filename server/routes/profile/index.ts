import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { requestCode, verifyCode } from '../../identity/code.service.js'
import { displayContact, parseContact } from '../../identity/contact.js'
import { issueDevice } from '../../identity/device.service.js'
import { NameError } from '../../identity/person.js'
import {
  ownProfile,
  removeOwnContact,
  renamePerson,
  revokeOwnDevice,
  revokeOwnLinks,
} from '../../identity/profile.service.js'
import { PRIVATE_PAGE } from '../../lib/cache-policy.js'
import { UserError } from '../../lib/errors.js'
import { pushEnabled as hasPush } from '../../push/push.service.js'
import { idParams, textFields } from '../schemas.js'

/** The person's own profile: name, contacts, devices, personal sign-in link. */
export default async function profileRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, identity } = app.ctx
  app.addHook('preHandler', app.requireCookiePerson)
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest) => ({
    personId: request.person!.id,
    at: clock.now(),
    context: request.auditContext,
  })

  const profile = async (
    request: FastifyRequest,
    reply: FastifyReply,
    data: Record<string, unknown> = {},
  ) => {
    const person = request.person!
    const [{ contacts, devices }, pushEnabled] = await Promise.all([
      ownProfile(db, person.id),
      hasPush(db, person.id, request.device!.id),
    ])
    const newLink = request.session.get('newLink')
    // Shown once; clearing it only when it is there keeps an unchanged session from being re-sent.
    if (newLink) request.session.set('newLink', undefined)
    reply.header('cache-control', PRIVATE_PAGE)
    return reply.page('profile/profile', {
      contacts: contacts.map((c) => ({ ...c, display: displayContact(c) })),
      devices: devices
        .filter((d) => d.kind !== 'link')
        .map((d) => ({ ...d, current: d.id === request.device!.id })),
      hasLink: devices.some((d) => d.kind === 'link'),
      newLink: newLink ?? null,
      newLinkQr: newLink
        ? await (await import('qrcode')).default.toString(newLink, {
            type: 'svg',
            margin: 1,
            errorCorrectionLevel: 'M',
          })
        : null,
      kinds: identity.messenger.kinds,
      pushEnabled,
      pushPublicKey: config.VAPID_PUBLIC_KEY,
      renderedAt: clock.now(),
      ...data,
    })
  }

  app.get('/profile', async (request, reply) => profile(request, reply))

  app.post<{ Body: { firstName: string; lastName: string } }>(
    '/profile/name',
    { ...csrf, schema: { body: textFields(['firstName', 'lastName'], [], 300) } },
    async (request, reply) => {
      try {
        await renamePerson(db, actor(request), request.body)
      } catch (error) {
        if (!(error instanceof NameError)) throw error
        reply.code(422)
        return profile(request, reply, { errors: error.errors, values: request.body })
      }
      request.flash('info', 'Your name is updated.')
      return reply.redirect('/profile', 303)
    },
  )

  app.post<{ Body: { contact: string } }>(
    '/profile/contacts',
    {
      ...csrf,
      schema: { body: textFields(['contact']) },
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      try {
        const contact = await requestCode(identity, {
          contact: request.body.contact,
          purpose: 'add-contact',
          personId: request.person!.id,
          context: request.auditContext,
        })
        request.session.set('pendingAddContact', contact.value)
        request.flash('info', `We sent a 6-digit code to ${displayContact(contact)}.`)
        return reply.redirect('/profile/contacts/verify', 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode === 400 ? 422 : error.statusCode).headers(error.headers)
        return profile(request, reply, { errors: { contact: error.message }, values: request.body })
      }
    },
  )

  const pending = (request: FastifyRequest) => {
    const value = request.session.get('pendingAddContact')
    const parsed = value ? parseContact(value, config.DEFAULT_PHONE_REGION) : undefined
    return parsed?.ok ? parsed.contact : undefined
  }

  app.get('/profile/contacts/verify', async (request, reply) => {
    const contact = pending(request)
    if (!contact) return reply.redirect('/profile', 303)
    return reply.page('profile/verify-contact', { contact: displayContact(contact) })
  })

  app.post<{ Body: { code: string } }>(
    '/profile/contacts/verify',
    {
      ...csrf,
      schema: { body: textFields(['code'], [], 20) },
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const contact = pending(request)
      if (!contact) return reply.redirect('/profile', 303)
      try {
        await verifyCode(identity, {
          contact: contact.value,
          code: request.body.code,
          purpose: 'add-contact',
          personId: request.person!.id,
          context: request.auditContext,
        })
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        if (error.statusCode === 409) {
          request.session.set('pendingAddContact', undefined)
          request.flash('error', error.message)
          return reply.redirect('/profile', 303)
        }
        reply.code(error.statusCode === 400 || error.statusCode === 401 ? 422 : error.statusCode)
        return reply.page('profile/verify-contact', {
          contact: displayContact(contact),
          errors: { code: error.message },
        })
      }
      request.session.set('pendingAddContact', undefined)
      request.flash('info', `${displayContact(contact)} is now on your profile. You can sign in with either.`)
      return reply.redirect('/profile', 303)
    },
  )

  app.post<{ Params: { id: number } }>(
    '/profile/contacts/:id/remove',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      try {
        await removeOwnContact(db, actor(request), request.params.id)
        request.flash('info', 'Contact removed.')
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/profile', 303)
    },
  )

  app.post<{ Params: { id: number } }>(
    '/profile/devices/:id/revoke',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      try {
        const device = await revokeOwnDevice(db, actor(request), request.params.id)
        if (device.id === request.device!.id) {
          reply.clearDeviceCookie()
          request.flash('info', 'You have logged out of this device.')
          return reply.redirect('/login', 303)
        }
        request.flash('info', `${device.name} is signed out. It will need a new code to come back.`)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/profile', 303)
    },
  )

  app.post('/profile/link', csrf, async (request, reply) => {
    const { token } = await issueDevice(db, { ...actor(request), kind: 'link' })
    request.session.set('newLink', `${config.PUBLIC_URL}/link/${token}`)
    request.flash('info', 'Your personal sign-in link is ready. Any earlier link no longer works.')
    return reply.redirect('/profile#link', 303)
  })

  app.post('/profile/link/revoke', csrf, async (request, reply) => {
    const count = await revokeOwnLinks(db, actor(request))
    request.flash(
      'info',
      count ? 'Your personal sign-in link no longer works.' : 'You had no active sign-in link.',
    )
    return reply.redirect('/profile#link', 303)
  })
}
