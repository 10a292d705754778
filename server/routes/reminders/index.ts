import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { UserError } from '../../lib/errors.js'
import { answerReminderLink, openReminderLink } from '../../reminders/reminder.service.js'
import { textFields } from '../schemas.js'

const tokenParams = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', minLength: 1, maxLength: 64 } },
} as const

/**
 * The reminder's one-tap links, /r/<token>. The token itself is the credential (signed; used once,
 * except that both still work after "Still here"), so no sign-in or CSRF token is needed. Opening
 * the link shows one button: mail scanners that fetch links must not sign anyone out, so only the
 * POST changes anything.
 */
export default async function reminderRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, keys, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE }
  const limit = { config: { rateLimit: { max: 30, timeWindow: '1 minute' } } }

  const answerPage = async (
    request: FastifyRequest<{ Params: { token: string } }>,
    reply: FastifyReply,
    extra: Record<string, unknown> = {},
  ) => {
    const link = await openReminderLink(db, keys.links, request.params.token, clock.now())
    reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
    return reply.page('reminders/answer', { link, token: request.params.token, ...extra })
  }

  app.get<{ Params: { token: string } }>(
    '/r/:token',
    { ...limit, schema: { params: tokenParams } },
    (request, reply) => answerPage(request, reply),
  )

  app.post<{ Params: { token: string }; Body: { time?: string } }>(
    '/r/:token',
    { ...limit, schema: { params: tokenParams, body: textFields([], ['time'], 10) } },
    async (request, reply) => {
      const now = clock.now()
      const time = request.body?.time?.trim() ?? ''
      try {
        const result = await answerReminderLink(
          db,
          {
            key: keys.links,
            token: request.params.token,
            time: time === '' ? undefined : time,
            now,
            context: request.auditContext,
          },
          site,
        )
        // After the commit, to every process's boards (as taps are announced).
        if (result.signedOut)
          events.emit('change', { personId: result.personId, action: 'signed-out', at: now })
        if (result.stillHere) events.announceStillHere(result.personId, now)
        reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer')
        return reply.page('reminders/done', { message: result.message })
      } catch (error) {
        if (!(error instanceof UserError) || error.statusCode !== 422) throw error
        reply.code(422)
        return answerPage(request, reply, { errors: { time: error.message }, values: { time } })
      }
    },
  )
}
