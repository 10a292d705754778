import type { FastifyInstance } from 'fastify'
import type { MessageStatus } from '../../db/database.js'
import { idSchema } from '../../lib/ids.js'
import { messageLog } from '../../messaging/message-log.service.js'
import { MESSAGE_STATUSES } from '../../messaging/message-status.js'

const PAGE_SIZE = 100

/** /admin/messages: every message sent, where it got to, and why it failed. */
export default async function messageRoutes(app: FastifyInstance): Promise<void> {
  const { db } = app.ctx

  app.get<{ Querystring: { status?: MessageStatus | ''; before?: number } }>(
    '/messages',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['', ...MESSAGE_STATUSES] },
            before: idSchema,
          },
        },
      },
    },
    async (request, reply) => {
      const status = request.query.status || undefined
      const { messages, older } = await messageLog(db, {
        status,
        limit: PAGE_SIZE,
        beforeId: request.query.before,
      })
      return reply.page('admin/messages', {
        status: status ?? '',
        statuses: MESSAGE_STATUSES,
        channels: app.ctx.messenger.channelNames,
        messages,
        older,
      })
    },
  )
}
