import { monitorEventLoopDelay } from 'node:perf_hooks'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { sameHash } from '../../identity/secrets.js'
import { UserError } from '../../lib/errors.js'
import { countEveryoneInside } from '../../register/register.service.js'

const loopback = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1'])

/**
 * GET /metrics in Prometheus text format: memory, event-loop delay since the last scrape, people
 * inside. With METRICS_TOKEN set, served to whoever presents it as a bearer token. Without one,
 * served only outside production and only when the client address (as TRUST_PROXY yields it, so a
 * visitor relayed by nginx on the same machine is not "local") is loopback.
 */
export default async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const { config, db } = app.ctx
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  app.addHook('onClose', async () => delay.disable())

  const allowed = (request: FastifyRequest) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
    if (config.METRICS_TOKEN) return bearer !== undefined && sameHash(bearer, config.METRICS_TOKEN)
    return config.NODE_ENV !== 'production' && loopback.has(request.ip)
  }
  const refusal =
    config.NODE_ENV === 'production' && !config.METRICS_TOKEN
      ? 'Metrics are not served: set METRICS_TOKEN and scrape with it as a bearer token.'
      : config.METRICS_TOKEN
        ? 'Metrics need the METRICS_TOKEN as a bearer token.'
        : 'Metrics are only served to this machine, or with METRICS_TOKEN.'

  app.get('/metrics', { config: { rateLimit: false } }, async (request, reply) => {
    if (!allowed(request)) throw new UserError(403, refusal)
    const memory = process.memoryUsage()
    const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0)
    const inside = await countEveryoneInside(db)
    const lines = [
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${memory.rss}`,
      '# HELP nodejs_heap_used_bytes V8 heap in use.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${memory.heapUsed}`,
      '# HELP nodejs_eventloop_delay_seconds Event-loop delay since the previous scrape.',
      '# TYPE nodejs_eventloop_delay_seconds summary',
      `nodejs_eventloop_delay_seconds{quantile="0.5"} ${seconds(delay.percentile(50))}`,
      `nodejs_eventloop_delay_seconds{quantile="0.99"} ${seconds(delay.percentile(99))}`,
      `nodejs_eventloop_delay_seconds{quantile="1"} ${seconds(delay.max)}`,
      '# HELP register_people_inside People in the building now: staff and visitors signed in and not out.',
      '# TYPE register_people_inside gauge',
      `register_people_inside ${inside.total}`,
      '# HELP register_visitors_inside Visitors among them.',
      '# TYPE register_visitors_inside gauge',
      `register_visitors_inside ${inside.visitors}`,
      '',
    ]
    delay.reset()
    reply.type('text/plain; version=0.0.4')
    return lines.join('\n')
  })
}
