import type { FastifyInstance } from 'fastify'
import { isoUtc, localDay } from '../../lib/site-time.js'
import { peopleInside } from '../../reception/presence.service.js'

/** How long a built answer may be reused when nothing in this process announced a change. */
const CACHE_MS = 1000

/**
 * GET /api/v1/presence for reception screens and integrations: who is inside now. At a fire alarm
 * every marshal's screen asks at once, so the answer is built once and reused until a sign-in or
 * sign-out here announces a change (or a second passes, for changes made by the worker).
 */
export default async function presenceApiRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  let cached: { day: string; builtAt: number; body: string } | undefined
  const forget = () => {
    cached = undefined
  }
  events.on('change', forget)
  app.addHook('onClose', async () => {
    events.off('change', forget)
  })

  app.get(
    '/presence',
    { preHandler: [app.requireBearerPerson, app.requireRole('reception')] },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store').type('application/json; charset=utf-8')
      const now = clock.now()
      const day = localDay(now, config.TIME_ZONE)
      if (cached && cached.day === day && performance.now() - cached.builtAt < CACHE_MS) return cached.body
      const inside = await peopleInside(db, now, config.TIME_ZONE)
      const body = JSON.stringify({
        count: new Set(inside.map((p) => p.personId)).size,
        people: inside.map((p) => ({
          id: p.personId,
          firstName: p.firstName,
          lastName: p.lastName,
          since: isoUtc(p.since),
          confirmed: p.confirmed,
        })),
      })
      cached = { day, builtAt: performance.now(), body }
      return body
    },
  )
}
