import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { Negotiator } from '@fastify/accept-negotiator'
import type { FastifyInstance } from 'fastify'
import { isoUtc, localDay } from '../../lib/site-time.js'
import { peopleInside } from '../../reception/presence.service.js'

/** How long a built answer may be reused when nothing in this process announced a change. */
const CACHE_MS = 1000

/** One built answer: the JSON as bytes, its gzip form (made on first demand) and its ETag. */
interface Answer {
  day: string
  builtAt: number
  body: Buffer
  gzip?: Buffer
  etag: string
}

/**
 * GET /api/v1/presence for reception screens and integrations: who is inside now. At a fire alarm
 * every marshal's screen asks at once, so the answer is built once (as bytes, gzipped once) and
 * reused until a sign-in or sign-out here announces a change (or a second passes, for changes made
 * by the worker). Screens that poll get 304 Not Modified while nothing has changed.
 */
export default async function presenceApiRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const encodings = new Negotiator({ supportedValues: ['gzip', 'identity'] })
  let cached: Answer | undefined
  const forget = () => {
    cached = undefined
  }
  events.on('change', forget)
  app.addHook('onClose', async () => {
    events.off('change', forget)
  })

  const build = async (now: number, day: string): Promise<Answer> => {
    const inside = await peopleInside(db, now, config.TIME_ZONE)
    const body = Buffer.from(
      JSON.stringify({
        count: new Set(inside.map((p) => p.personId)).size,
        people: inside.map((p) => ({
          id: p.personId,
          firstName: p.firstName,
          lastName: p.lastName,
          since: isoUtc(p.since),
          confirmed: p.confirmed,
        })),
      }),
    )
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    return { day, builtAt: performance.now(), body, etag }
  }

  app.get(
    '/presence',
    {
      preHandler: [app.requireBearerPerson, app.requireRole('reception')],
      // Compressed here once per answer, not by the compression plugin once per request.
      compress: false,
    },
    async (request, reply) => {
      const now = clock.now()
      const day = localDay(now, config.TIME_ZONE)
      if (!cached || cached.day !== day || performance.now() - cached.builtAt >= CACHE_MS) {
        cached = await build(now, day)
      }
      const answer = cached
      // Names of people: shared caches must not keep it; the client revalidates every time.
      reply
        .header('cache-control', 'private, no-cache')
        .header('etag', answer.etag)
        .header('vary', 'accept-encoding')
      if (request.headers['if-none-match'] === answer.etag) return reply.code(304).send()
      reply.type('application/json; charset=utf-8')
      if (encodings.negotiate(request.headers['accept-encoding'] ?? '') === 'gzip') {
        answer.gzip ??= gzipSync(answer.body)
        return reply.header('content-encoding', 'gzip').send(answer.gzip)
      }
      return reply.send(answer.body)
    },
  )
}
