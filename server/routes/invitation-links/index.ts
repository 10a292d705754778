import type { FastifyInstance, FastifyReply } from 'fastify'
import { displayContact } from '../../identity/contact.js'
import { acceptInvitation, readInvitationLink } from '../../invitations/invitation.service.js'
import { UserError } from '../../lib/errors.js'
import { assertCodeSignInAllowed, SsoRequiredError } from '../../sso/sso.service.js'

const tokenParams = { type: 'object', properties: { token: { type: 'string', maxLength: 100 } } } as const

/**
 * Invitation links (/invite/<token>): GET only shows whom the invitation is for (link previews in
 * messaging apps and mail scanners open links too, and must not use it up); one tap on the page's
 * button verifies the contact and recognises this device.
 */
export default async function invitationLinkRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, sso } = app.ctx
  // No tighter per-address limit than the site-wide one: a whole office opens its links from one
  // address on roll-out day, and a 256-bit token cannot be guessed however fast one tries.

  const refused = (reply: FastifyReply, error: UserError) => {
    reply.code(error.statusCode)
    return reply.page('auth/invitation-refused', { status: error.statusCode, message: error.message })
  }

  app.get<{ Params: { token: string } }>(
    '/invite/:token',
    { schema: { params: tokenParams } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
      try {
        const invitation = await readInvitationLink(db, request.params.token, clock.now())
        return await reply.page('auth/invitation', {
          invitation,
          contact: displayContact({ kind: invitation.contact_kind, value: invitation.contact_value }),
          token: request.params.token,
        })
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        return refused(reply, error)
      }
    },
  )

  app.post<{ Params: { token: string } }>(
    '/invite/:token',
    { preValidation: app.csrfProtection, schema: { params: tokenParams } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
      try {
        const { person, token, created } = await acceptInvitation(
          { db, clock, adminContacts: config.ADMIN_CONTACTS },
          {
            token: request.params.token,
            context: request.auditContext,
            allow: (person) => assertCodeSignInAllowed(person.role, config.SSO_REQUIRED_FOR_ROLES, sso),
          },
        )
        reply.setDeviceCookie(token)
        request.flash(
          'info',
          `Welcome${created ? '' : ' back'}, ${person.first_name}. This device will remember you.`,
        )
        return await reply.redirect('/', 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        if (error instanceof SsoRequiredError) {
          reply.code(403)
          return reply.page('sso/refused', { message: error.message, reason: 'sso-required' })
        }
        return refused(reply, error)
      }
    },
  )
}
