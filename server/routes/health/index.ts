import type { FastifyInstance } from 'fastify'
import { checkHealth, checkRedis, UnhealthyError } from '../../health/health.service.js'

/**
 * GET /healthz: each part's reachability as JSON. 503 when the database does not answer, or does
 * not take writes since a write failed (disk full, read-only) until a write succeeds again: nothing
 * works without it. Redis down is "degraded" but still 200: taps, boards and roll calls are
 * served from the database; only cross-process live updates, shared rate-limit counts and the
 * worker's jobs wait for it, so a load balancer must not take the web processes out.
 */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  const { db, redis, liveReady, clock } = app.ctx
  app.get('/healthz', { config: { rateLimit: false } }, async (_request, reply) => {
    const [database, redisState] = await Promise.all([
      checkHealth(db, clock.now()).then(
        () => 'ok' as const,
        (err: unknown) => {
          app.log.error({ err }, 'health check: the database is not answering or not taking writes')
          return err instanceof UnhealthyError ? ('not writing' as const) : ('down' as const)
        },
      ),
      redis ? checkRedis(redis, liveReady) : Promise.resolve('not configured' as const),
    ])
    if (database !== 'ok') {
      reply.code(503)
      const error =
        database === 'not writing'
          ? 'The database is not taking writes (disk full or read-only?).'
          : 'The database is not answering.'
      return { status: 'unavailable', database, redis: redisState, error }
    }
    return { status: redisState === 'down' ? 'degraded' : 'ok', database, redis: redisState }
  })
}
