import type { FastifyInstance } from 'fastify'
import { localDay, startOfLocalDay } from '../../lib/site-time.js'
import { listVisitsForPerson } from '../../register/visit.repository.js'

/** How far back a person's own history page looks. */
export const HISTORY_DAYS = 30

/** The person's own visits, with auto-closed ones shown as not confirmed. */
export default async function historyRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  app.addHook('preHandler', app.requireCookiePerson)

  app.get('/history', async (request, reply) => {
    const now = clock.now()
    const from = startOfLocalDay(
      localDay(now - HISTORY_DAYS * 24 * 3600_000, config.TIME_ZONE),
      config.TIME_ZONE,
    )
    const visits = await listVisitsForPerson(db, request.person!.id, from, now + 1)
    reply.header('cache-control', 'no-store')
    return reply.page('history/history', { visits, days: HISTORY_DAYS })
  })
}
