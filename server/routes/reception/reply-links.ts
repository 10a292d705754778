import type { FastifyInstance } from 'fastify'
import { answerBroadcast, readReply } from '../../reception/broadcast.service.js'
import type { ReceptionOptions } from './shared.js'

/**
 * Reply links from broadcasts (/b/:token): the signed token is the credential, so no sign-in and
 * no CSRF. Opening the link only shows a button: mail scanners that open links must not answer
 * for people.
 */
export default async function replyLinkRoutes(
  app: FastifyInstance,
  { live }: ReceptionOptions,
): Promise<void> {
  const { db, clock, keys } = app.ctx
  const tokenParams = {
    type: 'object',
    required: ['token'],
    properties: { token: { type: 'string', maxLength: 64 } },
  } as const
  // No tighter rate limit than the global one: after an evacuation many people answer from one
  // network, and the tokens (132-bit HMAC) cannot be guessed anyway.

  app.get<{ Params: { token: string } }>(
    '/b/:token',
    { schema: { params: tokenParams } },
    async (request, reply) => {
      const answer = await readReply(db, keys.links, request.params.token, clock.now())
      reply.header('cache-control', 'no-store').header('x-robots-tag', 'noindex')
      return reply.page('reception/reply', { reply: answer, token: request.params.token, done: null })
    },
  )

  app.post<{ Params: { token: string } }>(
    '/b/:token',
    { schema: { params: tokenParams } },
    async (request, reply) => {
      const result = await answerBroadcast(db, {
        linksKey: keys.links,
        token: request.params.token,
        at: clock.now(),
        context: request.auditContext,
      })
      if (result.recorded) {
        live.emit('change', { topic: 'broadcast', id: result.broadcastId })
        if (result.rollCallId !== null) live.emit('change', { topic: 'roll-call', id: result.rollCallId })
      }
      const answer = await readReply(db, keys.links, request.params.token, clock.now())
      reply.header('cache-control', 'no-store')
      return reply.page('reception/reply', { reply: answer, token: request.params.token, done: result })
    },
  )
}
