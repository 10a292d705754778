import type { FastifyInstance } from 'fastify'
import { pingDatabase } from '../../db/health.repository.js'

/** GET /healthz: 200 when the database answers, 503 when it does not. */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/healthz', { config: { rateLimit: false } }, async (_request, reply) => {
    try {
      await pingDatabase(app.ctx.db)
      return { status: 'ok' }
    } catch (err) {
      app.log.error({ err }, 'health check failed')
      reply.code(503)
      return { status: 'unavailable', error: 'The database is not answering.' }
    }
  })
}
