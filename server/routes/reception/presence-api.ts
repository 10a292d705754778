import type { FastifyInstance } from 'fastify'
import { isoUtc } from '../../lib/site-time.js'
import { peopleInside } from '../../reception/presence.service.js'

/** GET /api/v1/presence for reception screens and integrations: who is inside now. */
export default async function presenceApiRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  app.get(
    '/presence',
    { preHandler: [app.requireBearerPerson, app.requireRole('reception')] },
    async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      const inside = await peopleInside(db, clock.now(), config.TIME_ZONE)
      return {
        count: new Set(inside.map((p) => p.personId)).size,
        people: inside.map((p) => ({
          id: p.personId,
          firstName: p.firstName,
          lastName: p.lastName,
          since: isoUtc(p.since),
          confirmed: p.confirmed,
        })),
      }
    },
  )
}
