import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { inProcessBroadcastSender, workerBroadcastSender } from '../../../tasks/broadcast-sender.js'
import type { BroadcastAudience, BroadcastTemplate } from '../../db/database.js'
import { maskContact } from '../../identity/contact.js'
import { UserError } from '../../lib/errors.js'
import {
  broadcastReport,
  broadcastTemplates,
  createBroadcast,
  maxBroadcastLength,
  recentBroadcasts,
  retryBroadcast,
} from '../../reception/broadcast.service.js'
import { fireListSettings, phoneForCall, phonesOf } from '../../reception/presence.service.js'
import { FORM_USED, newFormKey, oncePerForm, withFormKey } from '../form-key.js'
import { idParams, textFields } from '../schemas.js'
import { auditContactsShown } from './fire-list-view.js'
import { deskActor, livePage, type ReceptionOptions } from './shared.js'

const templateNames = Object.keys(broadcastTemplates) as BroadcastTemplate[]
const messageBody = withFormKey(
  textFields(['template', 'audience', 'message'], ['askSafety'], maxBroadcastLength * 2),
)

/** /reception/broadcasts: messages to everyone inside (or everyone), and their deliveries live. */
export default async function broadcastRoutes(
  app: FastifyInstance,
  _options: ReceptionOptions,
): Promise<void> {
  const { db, clock, config } = app.ctx
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest) => deskActor(request, clock)
  const sender = config.REDIS_URL
    ? workerBroadcastSender(app.ctx)
    : inProcessBroadcastSender({ ...app.ctx, log: app.log })
  // Deliveries must finish with the database open.
  app.addHook('preClose', async () => sender.close())

  app.get('/reception/broadcasts', async (_request, reply) => {
    const broadcasts = await recentBroadcasts(db, 50)
    return reply.page('reception/broadcasts', { broadcasts, templates: broadcastTemplates })
  })

  const compose = (
    reply: FastifyReply,
    values: Record<string, string>,
    errors: Record<string, string> = {},
  ) =>
    reply.page('reception/broadcast-new', {
      templates: broadcastTemplates,
      templateNames,
      maxLength: maxBroadcastLength,
      values,
      errors,
      formKey: newFormKey(),
    })

  app.get<{ Querystring: { template?: string } }>(
    '/reception/broadcasts/new',
    {
      schema: {
        querystring: { type: 'object', properties: { template: { type: 'string', maxLength: 20 } } },
      },
    },
    async (request, reply) => {
      const name = (templateNames as string[]).includes(request.query.template ?? '')
        ? (request.query.template as BroadcastTemplate)
        : 'free'
      const template = broadcastTemplates[name]
      return compose(reply, {
        template: name,
        audience: 'inside',
        message: template.message,
        askSafety: template.askSafety ? 'yes' : '',
      })
    },
  )

  app.post<{
    Body: { template: string; audience: string; message: string; askSafety?: string; formKey?: string }
  }>(
    '/reception/broadcasts',
    {
      ...csrf,
      schema: { body: messageBody },
      // Each send can cost money per person (SMS): a slip of the finger must not repeat it.
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const { formKey, ...fields } = request.body
      const { template, audience, message } = fields
      const values = { ...fields, askSafety: fields.askSafety ? 'yes' : '' }
      if (
        !(templateNames as string[]).includes(template) ||
        (audience !== 'inside' && audience !== 'everyone')
      ) {
        reply.code(422)
        return compose(reply, values, { form: 'Choose a template and who to send it to.' })
      }
      try {
        // The form sent twice (a double click, a resend) sends once: each text costs money, and
        // the same alarm twice frightens people.
        const once = await oncePerForm(
          db,
          request,
          { key: formKey, fields, at: () => clock.now() },
          async () => {
            const broadcast = await createBroadcast(
              { db, fireList: fireListSettings(config) },
              {
                ...actor(request),
                template: template as BroadcastTemplate,
                audience: audience as BroadcastAudience,
                message,
                askSafety: Boolean(fields.askSafety),
              },
            )
            sender.send(broadcast.id)
            return { id: broadcast.id }
          },
        )
        if (once.reused) {
          reply.code(422)
          return compose(reply, values, { form: FORM_USED })
        }
        request.flash('info', 'Sending now. This page shows each delivery as it happens.')
        return reply.redirect(`/reception/broadcasts/${once.value.id}`, 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode)
        return compose(reply, values, { message: error.message })
      }
    },
  )

  app.get<{ Params: { id: number } }>(
    '/reception/broadcasts/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const report = await broadcastReport(db, request.params.id)
      const { broadcast, counts } = report
      // Who asked for help gets a number to call (reception role; audited like the board's).
      const help = report.recipients.filter((r) => r.answer === 'help')
      const phones = await phonesOf(
        db,
        help.flatMap((r) => (r.person_id === null ? [] : [r.person_id])),
      )
      // A visitor who asked for help is called on the phone they gave.
      const phoneOf = (r: (typeof help)[number]) =>
        r.person_id === null ? r.visitorPhone : phones.get(r.person_id)
      await auditContactsShown(db, clock, request, 'broadcast', help.filter(phoneOf).length)
      const recipients = report.recipients.map((r) => ({
        ...r,
        contactShown: r.contact_value ? maskContact(r.contact_value) : '',
        call: r.answer === 'help' ? phoneForCall(phoneOf(r)) : null,
      }))
      return reply.page('reception/broadcast', {
        ...livePage,
        broadcast,
        template: broadcastTemplates[broadcast.template],
        recipients,
        counts,
        now: clock.now(),
        canRetry: counts.failed > 0 || (counts.waiting > 0 && !sender.mayBeSending(broadcast.id)),
      })
    },
  )

  app.post<{ Params: { id: number } }>(
    '/reception/broadcasts/:id/retry',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const broadcastId = request.params.id
      const senderRunning = sender.mayBeSending(broadcastId)
      const requeued = await retryBroadcast(db, { ...actor(request), broadcastId, senderRunning })
      if (requeued > 0) sender.send(broadcastId)
      request.flash('info', requeued > 0 ? `Trying ${requeued} again.` : 'Nothing to send again.')
      return reply.redirect(`/reception/broadcasts/${request.params.id}`, 303)
    },
  )
}
