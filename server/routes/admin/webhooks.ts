import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { WEBHOOK_EVENT_TYPES } from '../../outgoing-webhooks/events.js'
import {
  createWebhookEndpoint,
  removeWebhookEndpoint,
  sendTestEvent,
  setWebhookEnabled,
  type WebhookActor,
  WebhookFormError,
  webhookEndpoints,
  webhookWithLog,
} from '../../outgoing-webhooks/webhook.service.js'
import { idParams } from '../schemas.js'

const endpointBody = {
  type: 'object',
  properties: {
    _csrf: { type: 'string', maxLength: 200 },
    url: { type: 'string', maxLength: 2000 },
    description: { type: 'string', maxLength: 1000 },
    events: { type: 'array', maxItems: 40, items: { type: 'string', maxLength: 60 } },
  },
} as const

/** Admin pages for outgoing webhooks (registered by routes/admin/index.ts, which checks the role): add (secret shown once), test, turn off/on, remove, delivery log. */
export default async function adminWebhookRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, keys, config } = app.ctx
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest): WebhookActor => ({
    personId: request.person!.id,
    at: clock.now(),
    context: request.auditContext,
  })

  const listPage = async (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('admin/webhooks', {
      endpoints: await webhookEndpoints(db),
      eventTypes: WEBHOOK_EVENT_TYPES,
      created: null,
      allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE,
      ...data,
    })

  app.get('/webhooks', async (_request, reply) => listPage(reply))

  app.post<{ Body: { url?: string; description?: string; events?: string[] } }>(
    '/webhooks',
    { ...csrf, schema: { body: endpointBody } },
    async (request, reply) => {
      const input = {
        url: request.body.url ?? '',
        description: request.body.description ?? '',
        events: request.body.events ?? [],
      }
      try {
        const created = await createWebhookEndpoint(
          db,
          { key: keys.webhooks, allowPrivate: config.WEBHOOKS_ALLOW_PRIVATE },
          input,
          actor(request),
        )
        // The secret is shown on this response only.
        return await listPage(reply, { created })
      } catch (error) {
        if (!(error instanceof WebhookFormError)) throw error
        reply.code(422)
        return listPage(reply, { errors: error.errors, values: input })
      }
    },
  )

  app.get<{ Params: { id: number } }>(
    '/webhooks/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      const { endpoint, deliveries } = await webhookWithLog(db, request.params.id)
      return reply.page('admin/webhook', { endpoint, deliveries, eventTypes: WEBHOOK_EVENT_TYPES })
    },
  )

  app.post<{ Params: { id: number } }>(
    '/webhooks/:id/test',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      await sendTestEvent(db, request.params.id, actor(request))
      await app.embeddedJobs?.deliverWebhooksNow()
      request.flash('info', 'Test event queued: its delivery appears in the log below.')
      return reply.redirect(`/admin/webhooks/${request.params.id}`, 303)
    },
  )

  for (const [action, enabled, said] of [
    ['disable', false, 'is turned off: nothing is sent until you turn it back on.'],
    ['enable', true, 'is turned on: undelivered events resume in order.'],
  ] as const) {
    app.post<{ Params: { id: number } }>(
      `/webhooks/:id/${action}`,
      { ...csrf, schema: { params: idParams } },
      async (request, reply) => {
        await setWebhookEnabled(db, request.params.id, enabled, actor(request))
        request.flash('info', `The webhook ${said}`)
        return reply.redirect(`/admin/webhooks/${request.params.id}`, 303)
      },
    )
  }

  app.post<{ Params: { id: number } }>(
    '/webhooks/:id/remove',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      await removeWebhookEndpoint(db, request.params.id, actor(request))
      request.flash('info', 'The webhook is removed.')
      return reply.redirect('/admin/webhooks', 303)
    },
  )
}
