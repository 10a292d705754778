import type { FastifyInstance } from 'fastify'
import type { MessageStatus } from '../../db/database.js'
import { maskContact } from '../../identity/contact.js'
import { listMessages } from '../../messaging/message.repository.js'
import { MESSAGE_STATUSES } from '../../messaging/message-status.js'

const PAGE_SIZE = 100

/** For admins: every message sent, where it got to, and why it failed. */
export default async function adminMessagesRoutes(app: FastifyInstance): Promise<void> {
  const { db } = app.ctx
  app.addHook('preHandler', app.requireCookiePerson)
  app.addHook('preHandler', app.requireRole('admin'))

  app.get<{ Querystring: { status?: MessageStatus | ''; before?: number } }>(
    '/admin/messages',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['', ...MESSAGE_STATUSES] },
            before: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          },
        },
      },
    },
    async (request, reply) => {
      const status = request.query.status || undefined
      const messages = await listMessages(db, { status, limit: PAGE_SIZE, beforeId: request.query.before })
      reply.header('cache-control', 'no-store')
      return reply.page('admin-messages/messages', {
        status: status ?? '',
        statuses: MESSAGE_STATUSES,
        channels: app.ctx.messenger.channelNames,
        messages: messages.map((m) => ({ ...m, recipient: maskContact(m.contact_value) })),
        older: messages.length === PAGE_SIZE ? messages.at(-1)!.id : null,
      })
    },
  )
}
