import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { RollCallKind } from '../../db/database.js'
import { UserError } from '../../lib/errors.js'
import { describeVisitorReason, fireListSettings, phoneForCall } from '../../reception/presence.service.js'
import type { RollCallViewLine, SignOutOnLine } from '../../reception/roll-call.service.js'
import {
  activeRollCall,
  describeSignOut,
  describeStatus,
  drillReport,
  endRollCall,
  lineReason,
  markOnRollCall,
  recentRollCalls,
  rollCallCsv,
  rollCallView,
  startRollCall,
} from '../../reception/roll-call.service.js'
import { replayedAt } from '../../register/offline-replay.js'
import type { VisitorRollCallLine } from '../../visitors/visitor-roll-call.service.js'
import { idParams, textFields } from '../schemas.js'
import { auditContactsShown } from './fire-list-view.js'
import { deskActor, livePage, type ReceptionOptions } from './shared.js'

/** A mark: a form post from the page, or JSON from its script (with the mark's own time and key). */
interface MarkBody {
  person: string
  status: string
  at?: number
  sentAt?: number
  key?: string
  action?: 'mark'
}

const markBody = {
  type: 'object',
  required: ['person', 'status'],
  properties: {
    ...textFields(['person', 'status'], [], 20).properties,
    at: { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 },
    sentAt: { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 },
    key: { type: 'string', minLength: 1, maxLength: 200 },
    // The phone's offline queue names what each saved request is.
    action: { type: 'string', enum: ['mark'] },
  },
  // A mark's own time comes only with the key that makes its replay count once.
  dependencies: { at: ['key'] },
} as const

/** /reception/roll-calls: fire roll calls, started, marked, ended, printed and exported. */
export default async function rollCallRoutes(
  app: FastifyInstance,
  { live }: ReceptionOptions,
): Promise<void> {
  const { db, clock, config } = app.ctx
  const tz = config.TIME_ZONE
  const fireList = fireListSettings(config)
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest) => deskActor(request, clock)
  const wantsJson = (request: FastifyRequest) =>
    String(request.headers.accept ?? '').includes('application/json')

  app.get('/reception/roll-calls', async (_request, reply) => {
    const rollCalls = await recentRollCalls(db, 50)
    return reply.page('reception/roll-calls', { rollCalls })
  })

  app.post<{ Body: { kind: string; confirm?: string } }>(
    '/reception/roll-calls',
    { ...csrf, schema: { body: textFields(['kind'], ['confirm'], 10) } },
    async (request, reply) => {
      const kind = request.body.kind
      if (kind !== 'drill' && kind !== 'real')
        throw new UserError(400, 'Choose a drill or a real evacuation.')
      // A real evacuation alerts marshals and is on the record: one tap only asks to confirm.
      if (kind === 'real' && request.body.confirm !== 'yes') {
        const running = await activeRollCall(db)
        if (running) return reply.redirect(`/reception/roll-calls/${running.id}`, 303)
        return reply.page('reception/roll-call-confirm', {})
      }
      const { rollCall, started } = await startRollCall(db, {
        ...actor(request),
        kind: kind as RollCallKind,
        fireList,
      })
      if (started) live.emit('change', { topic: 'roll-call', id: rollCall.id })
      const listed = started ? (await rollCallView(db, rollCall.id)).counts.total : 0
      request.flash(
        'info',
        started
          ? `Roll call started with ${listed} ${listed === 1 ? 'person' : 'people'} on the list.`
          : 'A roll call is already running: here it is.',
      )
      return reply.redirect(`/reception/roll-calls/${rollCall.id}`, 303)
    },
  )

  app.get<{ Params: { id: number }; Querystring: { show?: string; q?: string } }>(
    '/reception/roll-calls/:id',
    {
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            show: { type: 'string', enum: ['all', 'open'] },
            q: { type: 'string', maxLength: 100 },
          },
        },
      },
    },
    async (request, reply) => {
      const view = await rollCallView(db, request.params.id)
      const show = request.query.show === 'open' ? 'open' : 'all'
      const phones = view.lines.filter((l) => l.phone).length
      await auditContactsShown(db, clock, request, 'roll-call', phones)
      return reply.page('reception/roll-call', {
        ...(view.rollCall.ended_at === null ? livePage : {}),
        view,
        show,
        q: request.query.q ?? '',
        describeStatus,
        lineReason: (l: RollCallViewLine) => lineReason(l, view.rollCall, tz),
        signOut: (l: SignOutOnLine) => describeSignOut(l, view.rollCall, tz),
        visitorReason: (l: VisitorRollCallLine) => describeVisitorReason(l, view.rollCall.started_at, tz),
        phoneForCall,
        now: clock.now(),
      })
    },
  )

  app.get<{ Params: { id: number } }>(
    '/reception/roll-calls/:id/print',
    { schema: { params: idParams } },
    async (request, reply) => {
      const view = await rollCallView(db, request.params.id)
      return reply.page('reception/roll-call-print', {
        scripts: ['/static/reception.js'],
        view,
        describeStatus,
        lineReason: (l: RollCallViewLine) => lineReason(l, view.rollCall, tz),
        visitorReason: (l: VisitorRollCallLine) => describeVisitorReason(l, view.rollCall.started_at, tz),
        signOut: (l: SignOutOnLine) => describeSignOut(l, view.rollCall, tz),
        now: clock.now(),
      })
    },
  )

  app.get<{ Params: { id: number } }>(
    '/reception/roll-calls/:id/report',
    { schema: { params: idParams } },
    async (request, reply) => {
      const report = await drillReport(db, request.params.id, tz)
      return reply.page('reception/drill-report', {
        scripts: ['/static/reception.js'],
        report,
        describeStatus,
        signOut: (l: SignOutOnLine) => describeSignOut(l, report.view.rollCall, tz),
      })
    },
  )

  app.get<{ Params: { id: number } }>(
    '/reception/roll-calls/:id/report.csv',
    { schema: { params: idParams } },
    async (request, reply) => {
      const view = await rollCallView(db, request.params.id)
      reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="roll-call-${view.rollCall.id}.csv"`)
      return rollCallCsv(view, tz)
    },
  )

  app.post<{ Params: { id: number }; Body: MarkBody }>(
    '/reception/roll-calls/:id/marks',
    { ...csrf, schema: { params: idParams, body: markBody } },
    async (request, reply) => {
      const rollCallId = request.params.id
      const back = `/reception/roll-calls/${rollCallId}`
      try {
        const { status, person, key } = request.body
        if (status !== 'safe' && status !== 'missing' && status !== 'unaccounted') {
          throw new UserError(400, 'Mark someone safe, missing or unaccounted.')
        }
        const visitor = /^v([1-9]\d{0,15})$/.exec(person)?.[1]
        if (!visitor && !/^[1-9]\d{0,15}$/.test(person))
          throw new UserError(400, 'That person is not on this roll call.')
        const now = clock.now()
        // A mark saved on a phone comes with its own time (and the phone's send time, which
        // corrects a phone clock that is off), under the same rules as a tap saved offline.
        const at =
          request.body.at === undefined
            ? now
            : replayedAt({ at: request.body.at, sentAt: request.body.sentAt, now }, { timeZone: tz }).at
        const outcome = await markOnRollCall(db, {
          ...actor(request),
          at,
          receivedAt: now,
          rollCallId,
          subject: visitor ? { visitor: Number(visitor) } : { person: Number(person) },
          status,
          key,
        })
        if (outcome.applied) live.emit('change', { topic: 'roll-call', id: rollCallId })
        if (wantsJson(request))
          return { ok: true, ...outcome, counts: (await rollCallView(db, rollCallId)).counts }
        return reply.redirect(`${back}#${visitor ? `v-${visitor}` : `p-${person}`}`, 303)
      } catch (error) {
        if (!(error instanceof UserError) || wantsJson(request)) throw error
        request.flash('error', error.message)
        return reply.redirect(back, 303)
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/reception/roll-calls/:id/end',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const ended = await endRollCall(db, {
        ...actor(request),
        rollCallId: request.params.id,
        timeZone: tz,
      })
      live.emit('change', { topic: 'roll-call', id: ended.id })
      request.flash('info', 'Roll call ended. The report below is kept in the audit trail.')
      return reply.redirect(`/reception/roll-calls/${ended.id}`, 303)
    },
  )
}
