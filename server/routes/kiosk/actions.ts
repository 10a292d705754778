import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { auditKiosk } from '../../kiosk/kiosk.service.js'
import { searchPeopleByName } from '../../kiosk/name-search.js'
import { signInOrOutWithPin } from '../../kiosk/staff-pin.service.js'
import { UserError } from '../../lib/errors.js'
import { clientMessage } from '../../lib/http-errors.js'
import { idSchema } from '../../lib/ids.js'
import { formatDay, formatTime } from '../../lib/site-time.js'
import { timeAround } from '../../reception/presence.service.js'
import { replayedAt } from '../../register/offline-replay.js'
import {
  recordDismissedSavedSignIn,
  recordRefusedSavedSignIn,
} from '../../visitors/refused-sign-in.service.js'
import { currentSiteNotice } from '../../visitors/site-notice.service.js'
import {
  findVisitorsInsideByName,
  signInVisitor,
  signOutVisitor,
  type VisitorInput,
  type VisitorSource,
  visitorById,
  visitorsInside,
} from '../../visitors/visitor.service.js'
import { readVisitorToken, visitorLink } from '../../visitors/visitor-links.js'
import { refusedForGood } from '../offline-queue.js'
import { idParams } from '../schemas.js'
import { qrDataUrl } from './qr.js'

const str = (maxLength: number) => ({ type: 'string', maxLength }) as const
const instant = { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 } as const
const searchQuery = {
  type: 'object',
  required: ['q'],
  properties: { q: str(100) },
} as const

/** A replayable kiosk action's envelope: its key, and when it happened by the tablet's clock. */
const replayFields = {
  _csrf: str(200),
  key: { type: 'string', minLength: 1, maxLength: 100 },
  at: instant,
  sentAt: instant,
}

/**
 * The kiosks a tablet saved a request under while it was paired as another, oldest first (web/kiosk.js
 * adds them when it takes over what an earlier pairing left).
 */
const savedUnder = { type: 'array', maxItems: 20, items: idSchema } as const

/**
 * When a request the tablet saved was made, by the server's clock: its age by the tablet's clock
 * (`sentAt - at`, never less than nothing) back from now; null when the request does not say.
 */
const madeAtOf = (body: Record<string, unknown>, now: number): number | null => {
  const { at, sentAt } = body
  if (typeof at !== 'number') return null
  return now - Math.max((typeof sentAt === 'number' ? sentAt : now) - at, 0)
}

/** A visitor's typed details and photo, with the longest the request may carry of each. */
const visitorText = {
  name: str(200),
  company: str(200),
  hostText: str(200),
  phone: str(100),
  email: str(300),
  photo: str(60_000),
}

/** A visitor sign-in sent by the kiosk's offline queue (web/queue.js names it by its `action`). */
const isSavedVisitorSignIn = (body: unknown): body is Record<string, unknown> =>
  typeof body === 'object' && body !== null && (body as { action?: unknown }).action === 'visitor-sign-in'

/** What a paired kiosk can do: visitors in and out, host and name searches, badges. */
export default async function kioskActionRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, keys, events, live } = app.ctx
  const tz = config.TIME_ZONE
  const site = { timeZone: tz, defaultRegion: config.DEFAULT_PHONE_REGION }
  const csrf = { preValidation: app.csrfProtection }
  const source = (request: FastifyRequest): VisitorSource => ({
    via: 'kiosk',
    kiosk: { id: request.kiosk!.id, name: request.kiosk!.name },
    personId: null,
    context: request.auditContext,
  })

  // Host search: names only (never contacts), at most a few, after 3 letters.
  app.get<{ Querystring: { q: string } }>(
    '/kiosk/api/hosts',
    { schema: { querystring: searchQuery } },
    async (request) => {
      const { matches, more } = await searchPeopleByName(db, request.query.q)
      return { matches: matches.map((m) => ({ id: m.personId, name: `${m.firstName} ${m.lastName}` })), more }
    },
  )

  // What a saved copy cut or left out to fit the limits below, by request (fitSavedCopy).
  const cutToFit = new WeakMap<FastifyRequest, string[]>()
  /**
   * A sign-in the kiosk saved offline is never refused for being too long: the visitor was told they
   * are signed in. Free text is cut to the limit (the register then keeps its first 100 characters);
   * a phone, email or photo cut short would be wrong, so it is left out. Either way it is audited.
   */
  const fitSavedCopy = async (request: FastifyRequest) => {
    const body = request.body
    if (!isSavedVisitorSignIn(body)) return
    const cut: string[] = []
    for (const [field, { maxLength }] of Object.entries(visitorText)) {
      const value = body[field]
      // Counted in code points, as the schema counts them, and never cut inside one.
      if (typeof value !== 'string' || value.length <= maxLength || [...value].length <= maxLength) continue
      if (field === 'name' || field === 'company' || field === 'hostText')
        body[field] = [...value].slice(0, maxLength).join('')
      else delete body[field]
      cut.push(field === 'hostText' ? 'host' : field)
    }
    if (cut.length > 0) cutToFit.set(request, cut)
  }
  /**
   * A saved sign-in the register refuses for good is dropped from the kiosk's queue: the tablet keeps
   * a notice, and reception is told here (audited, and the board lists it at once).
   */
  const reportRefusedSavedCopy = async (request: FastifyRequest, _reply: unknown, error: FastifyError) => {
    const body = request.body
    if (!refusedForGood(error) || !request.kiosk || !isSavedVisitorSignIn(body)) return
    const now = clock.now()
    try {
      await recordRefusedSavedSignIn(db, request.kiosk, {
        now,
        madeAt: madeAtOf(body, now),
        key: typeof body.key === 'string' ? body.key.slice(0, 100) : null,
        status: error.statusCode ?? 400,
        reason: clientMessage(error),
        savedUnder: body.savedUnder,
        context: request.auditContext,
      })
      live.emit('change', { topic: 'kiosk', id: request.kiosk.id })
    } catch (err) {
      request.log.error({ err }, 'could not record a refused saved sign-in')
    }
  }

  app.post<{
    Body: VisitorInput & {
      key?: string
      at?: number
      sentAt?: number
      accept?: number
      action?: string
      savedUnder?: number[]
    }
  }>(
    '/kiosk/api/visitors',
    {
      preValidation: [fitSavedCopy, app.csrfProtection],
      onError: reportRefusedSavedCopy,
      // A photo too large for a request is left out of a saved copy (above), not the copy refused.
      bodyLimit: 256 * 1024,
      schema: {
        body: {
          type: 'object',
          properties: {
            ...replayFields,
            // The kiosk's offline queue (web/queue.js) sends its saved copy with its `action`.
            action: str(40),
            hostId: idSchema,
            accept: idSchema,
            savedUnder,
            ...visitorText,
          },
        },
      },
    },
    async (request, reply) => {
      const now = clock.now()
      const body = request.body
      const notice = await currentSiteNotice(db)
      const { visitor, changed } = await signInVisitor(
        db,
        {
          input: { ...body, acceptNotice: body.accept },
          source: source(request),
          at: now,
          now,
          saved: body.at === undefined ? undefined : { at: body.at, sentAt: body.sentAt },
          clientKey: body.key,
          timed: body.at !== undefined,
          replayed: body.action === 'visitor-sign-in',
          cut: cutToFit.get(request),
          noticeId: notice?.id ?? null,
          savedUnder: body.savedUnder,
        },
        site,
      )
      events.announceVisitor(visitor.id, { changed, in: true }, now)
      reply.code(changed ? 201 : 200)
      const welcome = `Welcome, ${visitor.name}. You signed in at ${formatTime(visitor.signed_in_at ?? now, tz)}.`
      // Signed in under the kiosk this tablet was paired as before: the tablet holds the copy it sent
      // (name and time), and learns no more of another kiosk's visitor (no host, no badge).
      if (visitor.kiosk_id !== request.kiosk!.id) return { visitorId: visitor.id, message: welcome }
      const host = visitor.host_person_id
        ? (await visitorsInside(db, now, tz)).find((v) => v.visitorId === visitor.id)?.hostName
        : undefined
      return {
        visitorId: visitor.id,
        message: `${welcome}${host ? ` We are letting ${host} know you are here.` : ' Reception will let your host know.'}`,
        badge: `/kiosk/badge/${visitor.id}`,
      }
    },
  )

  // A person removes the tablet's notice of a refused saved sign-in: recorded before the tablet
  // forgets it, so the tablet asks only while it has the network.
  app.post<{ Body: { key: string; at?: number; sentAt?: number; savedUnder?: number[] } }>(
    '/kiosk/api/saved-sign-ins/dismiss',
    {
      ...csrf,
      schema: { body: { type: 'object', required: ['key'], properties: { ...replayFields, savedUnder } } },
    },
    async (request) => {
      const now = clock.now()
      const outcome = await recordDismissedSavedSignIn(db, request.kiosk!, {
        now,
        madeAt: madeAtOf(request.body, now),
        key: request.body.key,
        savedUnder: request.body.savedUnder,
        context: request.auditContext,
      })
      // Reception's boards show the refusal as dealt with at once.
      if (outcome === 'recorded') live.emit('change', { topic: 'kiosk', id: request.kiosk!.id })
      if (outcome === 'no-refusal')
        request.log.warn(
          { kioskId: request.kiosk!.id },
          'a kiosk removed the notice of a refusal the register does not hold',
        )
      // The tablet forgets the notice in every case: a notice it could never remove helps nobody.
      return { dismissed: true, recorded: outcome !== 'no-refusal' }
    },
  )

  // Visitors find their own name to sign out: a few matches after 3 letters, names, companies and
  // when they signed in only.
  app.get<{ Querystring: { q: string } }>(
    '/kiosk/api/visitors/inside',
    { schema: { querystring: searchQuery } },
    async (request) => {
      const now = clock.now()
      const { matches, more } = await findVisitorsInsideByName(db, request.query.q, now, tz)
      return {
        // When they signed in tells two visitors of the same name apart before one signs out.
        matches: matches.map((m) => ({
          id: m.visitorId,
          name: m.name,
          company: m.company,
          since: timeAround(m.since, now, tz),
        })),
        more,
      }
    },
  )

  const signOut = async (request: FastifyRequest, visitorId: number, at: number) => {
    const { visitor, changed } = await signOutVisitor(db, {
      visitorId,
      at,
      now: clock.now(),
      closedBy: 'visitor',
      source: source(request),
    })
    events.announceVisitor(visitor.id, { changed, in: false }, clock.now())
    return {
      changed,
      message: changed
        ? `Goodbye, ${visitor.name}. You signed out at ${formatTime(visitor.signed_out_at!, tz)}. Thank you for visiting.`
        : `${visitor.name}, you were already signed out.`,
    }
  }

  app.post<{ Params: { id: number }; Body: { at?: number; sentAt?: number } }>(
    '/kiosk/api/visitors/:id/sign-out',
    { ...csrf, schema: { params: idParams, body: { type: 'object', properties: replayFields } } },
    async (request) => {
      const now = clock.now()
      const body = request.body ?? {}
      const at = body.at === undefined ? now : replayedAt({ at: body.at, sentAt: body.sentAt, now }, site).at
      return signOut(request, request.params.id, at)
    },
  )

  // The badge's QR code read by the kiosk camera: the signed link names the visit.
  app.post<{ Body: { link: string } }>(
    '/kiosk/api/visitors/sign-out-by-badge',
    {
      ...csrf,
      schema: {
        body: { type: 'object', required: ['link'], properties: { _csrf: str(200), link: str(500) } },
      },
    },
    async (request) => {
      const token = /\/v\/([^/?#]+)\s*$/.exec(request.body.link)?.[1] ?? request.body.link.trim()
      const visitorId = readVisitorToken(keys.links, token, 'out')
      if (visitorId === undefined) throw new UserError(422, 'That is not a visitor badge from this building.')
      return signOut(request, visitorId, clock.now())
    },
  )

  app.get<{ Params: { id: number }; Querystring: { size?: string } }>(
    '/kiosk/badge/:id',
    {
      schema: {
        params: idParams,
        querystring: { type: 'object', properties: { size: { type: 'string', enum: ['label', 'a6'] } } },
      },
    },
    async (request, reply) => {
      const visitor = await visitorById(db, request.params.id)
      // Only a visitor this kiosk signed in, still inside: a kiosk cannot print anyone else's details.
      if (
        !visitor ||
        visitor.kiosk_id !== request.kiosk!.id ||
        visitor.signed_in_at === null ||
        visitor.signed_out_at !== null
      )
        throw new UserError(404, 'That badge is not available here.')
      const inside = (await visitorsInside(db, clock.now(), tz)).find((v) => v.visitorId === visitor.id)
      const link = visitorLink(keys.links, config.PUBLIC_URL, visitor.id, 'out')
      await auditKiosk(db, request.kiosk!, {
        at: clock.now(),
        action: 'visitor.badge-printed',
        context: request.auditContext,
        detail: { visitorId: visitor.id },
      })
      return reply.page('kiosk/badge', {
        visitor,
        hostName: inside?.hostName ?? '',
        day: formatDay(visitor.signed_in_at, tz),
        qr: await qrDataUrl(link),
        size: request.query.size ?? 'label',
      })
    },
  )

  // Staff without their phone: their own name (3+ letters, only people who set a PIN), then the PIN.
  app.get<{ Querystring: { q: string } }>(
    '/kiosk/api/staff',
    { schema: { querystring: searchQuery } },
    async (request) => {
      const { matches, more } = await searchPeopleByName(db, request.query.q, { withPin: true })
      return { matches: matches.map((m) => ({ id: m.personId, name: `${m.firstName} ${m.lastName}` })), more }
    },
  )

  app.post<{ Params: { id: number }; Body: { pin: string } }>(
    '/kiosk/api/staff/:id/pin',
    {
      ...csrf,
      schema: {
        params: idParams,
        body: { type: 'object', required: ['pin'], properties: { _csrf: str(200), pin: str(20) } },
      },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (request) => {
      const now = clock.now()
      const result = await signInOrOutWithPin(
        db,
        {
          kiosk: request.kiosk!,
          personId: request.params.id,
          pin: request.body.pin,
          now,
          context: request.auditContext,
        },
        { timeZone: tz },
      )
      events.announceTap(
        request.params.id,
        { changed: result.changed, in: result.presence.state === 'in' },
        now,
      )
      return { changed: result.changed, state: result.presence.state, message: result.message }
    },
  )
}
