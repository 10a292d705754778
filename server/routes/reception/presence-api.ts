import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { Negotiator } from '@fastify/accept-negotiator'
import type { FastifyInstance } from 'fastify'
import { isoUtc, localDay } from '../../lib/site-time.js'
import {
  describeReason,
  type FireListPerson,
  fireList,
  fireListSettings,
  staffOnFireList,
} from '../../reception/presence.service.js'
import { presenceSchema } from '../api/api.schemas.js'

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
 * GET /api/v1/presence for reception screens and integrations: the fire list now (in, unconfirmed
 * with the reason, visitors), from the same function as the board and the roll call. At a fire alarm
 * every marshal's screen asks at once, so the answer is built once (as bytes, gzipped once) and
 * reused until a sign-in or sign-out here announces a change (or a second passes, for changes made
 * by the worker). Screens that poll get 304 Not Modified while nothing has changed.
 */
export default async function presenceApiRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const settings = fireListSettings(config)
  const encodings = new Negotiator({ supportedValues: ['gzip', 'identity'] })
  let cached: Answer | undefined
  // The build under way, shared by every request that finds the answer out of date meanwhile: when
  // the second is up, all fifty screens ask at once, and fifty builds of the same 2,000-person list
  // (each a query, a JSON text of ~200 KB and its hash) stalled every request behind them.
  // A change announced meanwhile drops it: its answer may be from before the change.
  let building: Promise<Answer> | undefined
  const forget = () => {
    cached = undefined
    building = undefined
  }
  events.on('change', forget)
  app.addHook('onClose', async () => {
    events.off('change', forget)
  })

  const build = async (now: number, day: string): Promise<Answer> => {
    const list = await fireList(db, now, settings)
    const person = (p: FireListPerson) => ({
      id: p.personId,
      firstName: p.firstName,
      lastName: p.lastName,
      group: p.group,
      since: isoUtc(p.signedInAt),
      lastActivity: isoUtc(p.lastActivityAt),
      confirmed: p.group === 'in',
      reason: p.reason && {
        kind: p.reason.kind,
        at: isoUtc(p.reason.at),
        text: describeReason(p.reason, p, now, settings.timeZone),
      },
      tellApart: p.tellApart,
    })
    const body = Buffer.from(
      JSON.stringify({
        count: list.counts.total,
        counts: list.counts,
        people: staffOnFireList(list).map(person),
        visitors: list.visitors.map((v) => ({
          id: v.visitorId,
          name: v.name,
          company: v.company,
          host: v.hostName,
          since: isoUtc(v.signedInAt),
          confirmed: v.confirmed,
        })),
      }),
    )
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    return { day, builtAt: performance.now(), body, etag }
  }

  /** Builds the answer for everyone waiting on it; keeps it unless a change came meanwhile. */
  const buildShared = (now: number, day: string): Promise<Answer> => {
    const mine: Promise<Answer> = build(now, day).then(
      (built) => {
        if (building === mine) {
          building = undefined
          cached = built
        }
        return built
      },
      (error: unknown) => {
        if (building === mine) building = undefined
        throw error
      },
    )
    return mine
  }

  app.get(
    '/presence',
    {
      preHandler: [app.requireBearerPerson, app.requireRole('reception')],
      schema: presenceSchema,
      // Compressed here once per answer, not by the compression plugin once per request.
      compress: false,
    },
    async (request, reply) => {
      const now = clock.now()
      const day = localDay(now, config.TIME_ZONE)
      let answer = cached
      if (!answer || answer.day !== day || performance.now() - answer.builtAt >= CACHE_MS) {
        building ??= buildShared(now, day)
        answer = await building
      }
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
