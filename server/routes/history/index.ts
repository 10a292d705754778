import type { FastifyInstance } from 'fastify'
import { PRIVATE_PAGE } from '../../lib/cache-policy.js'
import { HISTORY_DAYS, ownHistory } from '../../register/history.service.js'

/** The person's own visits, with auto-closed ones shown as not confirmed. */
export default async function historyRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  app.addHook('preHandler', app.requireCookiePerson)

  app.get('/history', async (request, reply) => {
    const visits = await ownHistory(db, request.person!.id, clock.now(), config.TIME_ZONE)
    reply.header('cache-control', PRIVATE_PAGE)
    return reply.page('history/history', { visits, days: HISTORY_DAYS, renderedAt: clock.now() })
  })
}
