import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { PRIVATE_PAGE } from '../../lib/cache-policy.js'
import { localDay } from '../../lib/site-time.js'
import {
  cancelOwnInvitation,
  dayLabel,
  editInvitation,
  type InvitationInput,
  invitationDeps,
  invitationState,
  invitationToEdit,
  preRegisterVisitor,
  upcomingInvitations,
} from '../../visitors/invitation.service.js'
import { VisitorFormError } from '../../visitors/visitor.service.js'
import { idParams, textFields } from '../schemas.js'

const fields = ['name', 'company', 'day', 'time', 'contact'] as const

/**
 * A host's own visitors: pre-register someone for a day (they get an invitation by email or text
 * with a one-time check-in link, its QR code and a kiosk code), change or cancel it.
 */
export default async function invitationRoutes(app: FastifyInstance): Promise<void> {
  const { clock, config } = app.ctx
  const deps = invitationDeps(app.ctx)
  const tz = config.TIME_ZONE
  app.addHook('preHandler', app.requireCookiePerson)
  const csrf = { preValidation: app.csrfProtection }
  const contactOf = (v: { phone: string | null; email: string | null }) => v.phone ?? v.email ?? ''

  const listPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    data: Record<string, unknown> = {},
  ) => {
    const now = clock.now()
    const invitations = (await upcomingInvitations(deps, request.person!)).map((v) => ({
      ...v,
      state: invitationState(v, now, tz),
      dayText: dayLabel(v.expected_day!, tz),
    }))
    reply.header('cache-control', PRIVATE_PAGE)
    return reply.page('invitations/list', {
      invitations,
      today: localDay(now, tz),
      kinds: deps.messenger.kinds,
      ...data,
    })
  }

  app.get('/visitors', async (request, reply) => listPage(request, reply))

  app.post<{ Body: InvitationInput }>(
    '/visitors',
    {
      ...csrf,
      schema: { body: textFields([], fields, 200) },
      // Each invitation is a message someone pays for.
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      try {
        const visitor = await preRegisterVisitor(deps, {
          host: request.person!,
          input: request.body,
          context: request.auditContext,
        })
        request.flash(
          'info',
          `${visitor.name} is expected on ${dayLabel(visitor.expected_day!, tz)}: the invitation is sent.`,
        )
        return reply.redirect('/visitors', 303)
      } catch (error) {
        if (!(error instanceof VisitorFormError)) throw error
        reply.code(422)
        return listPage(request, reply, { errors: error.errors, values: request.body })
      }
    },
  )

  const editPage = (
    reply: FastifyReply,
    visitor: { id: number; name: string },
    data: Record<string, unknown>,
  ) => {
    reply.header('cache-control', PRIVATE_PAGE)
    return reply.page('invitations/edit', { visitor, kinds: deps.messenger.kinds, ...data })
  }

  app.get<{ Params: { id: number } }>(
    '/visitors/:id/edit',
    { schema: { params: idParams } },
    async (request, reply) => {
      const v = await invitationToEdit(deps, request.person!, request.params.id)
      return editPage(reply, v, {
        values: {
          name: v.name,
          company: v.company,
          day: v.expected_day,
          time: v.invitation.expected_time ?? '',
          contact: contactOf(v),
        },
      })
    },
  )

  app.post<{ Params: { id: number }; Body: InvitationInput }>(
    '/visitors/:id',
    {
      ...csrf,
      schema: { params: idParams, body: textFields([], fields, 200) },
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      try {
        const { visitor, resent } = await editInvitation(deps, {
          host: request.person!,
          visitorId: request.params.id,
          input: request.body,
          context: request.auditContext,
        })
        request.flash(
          'info',
          resent
            ? `${visitor.name}’s invitation is changed and sent again; the old link no longer works.`
            : `${visitor.name}’s invitation is changed.`,
        )
        return reply.redirect('/visitors', 303)
      } catch (error) {
        if (!(error instanceof VisitorFormError)) throw error
        const v = await invitationToEdit(deps, request.person!, request.params.id)
        reply.code(422)
        return editPage(reply, v, { errors: error.errors, values: request.body })
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/visitors/:id/cancel',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const visitor = await cancelOwnInvitation(deps, {
        host: request.person!,
        visitorId: request.params.id,
        context: request.auditContext,
      })
      request.flash('info', `${visitor.name}’s invitation is cancelled: the link and code no longer work.`)
      return reply.redirect('/visitors', 303)
    },
  )
}
