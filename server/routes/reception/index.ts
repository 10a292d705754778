import { PassThrough } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { BroadcastAudience, BroadcastTemplate, RollCallKind } from '../../db/database.js'
import { maskContact } from '../../identity/contact.js'
import { UserError } from '../../lib/errors.js'
import { findBroadcast, listBroadcasts, listRecipients } from '../../reception/broadcast.repository.js'
import {
  answerBroadcast,
  broadcastTemplates,
  createBroadcast,
  deliverBroadcast,
  maxBroadcastLength,
  readReply,
  retryBroadcast,
} from '../../reception/broadcast.service.js'
import { ReceptionEvents } from '../../reception/live-events.js'
import { presenceBoard } from '../../reception/presence.service.js'
import { findActiveRollCall, listRollCalls } from '../../reception/roll-call.repository.js'
import {
  describeStatus,
  endRollCall,
  markPerson,
  rollCallCsv,
  rollCallView,
  startRollCall,
} from '../../reception/roll-call.service.js'
import { idParams, textFields } from '../schemas.js'

const templateNames = Object.keys(broadcastTemplates) as BroadcastTemplate[]

/** How often pages refresh themselves when live updates are not available (no JS). */
const fallbackRefreshSeconds = 30

/**
 * Reception: the live presence board and its large display, fire roll calls, broadcasts, and the
 * public reply links people answer broadcasts with. Pages update live over server-sent events.
 */
export default async function receptionRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events, messenger, keys } = app.ctx
  const tz = config.TIME_ZONE
  const live = new ReceptionEvents()
  const streams = new Set<PassThrough>()
  // Broadcasts being sent by this process, by id.
  const deliveries = new Map<number, Promise<unknown>>()
  const csrf = { preValidation: app.csrfProtection }
  const broadcastDeps = {
    db,
    messenger,
    clock,
    linksKey: keys.links,
    publicUrl: config.PUBLIC_URL,
    timeZone: tz,
  }

  // Open event streams would keep the server from closing; deliveries must finish with the database open.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end()
    await Promise.allSettled([...deliveries.values()])
  })

  /**
   * Sends a broadcast's pending deliveries in the background, announcing each outcome. If a pass is
   * already running for it, another pass follows it (for deliveries requeued meanwhile).
   */
  const deliver = (broadcastId: number) => {
    const announce = () => live.emit('change', { topic: 'broadcast', id: broadcastId })
    const previous = deliveries.get(broadcastId) ?? Promise.resolve()
    const running: Promise<unknown> = previous
      .then(() => deliverBroadcast(broadcastDeps, broadcastId, announce))
      .catch((err: unknown) => app.log.error({ err, broadcastId }, 'broadcast delivery failed'))
      .finally(() => {
        if (deliveries.get(broadcastId) === running) deliveries.delete(broadcastId)
        announce()
      })
    deliveries.set(broadcastId, running)
  }

  const actor = (request: FastifyRequest) => ({
    personId: request.person!.id,
    at: clock.now(),
    context: request.auditContext,
  })
  const wantsJson = (request: FastifyRequest) =>
    String(request.headers.accept ?? '').includes('application/json')

  // Reply links from broadcasts: the signed token is the credential, so no sign-in and no CSRF.
  // Opening the link only shows a button: mail scanners that open links must not answer for people.
  app.register(async (open) => {
    const tokenParams = {
      type: 'object',
      required: ['token'],
      properties: { token: { type: 'string', maxLength: 64 } },
    } as const
    // No tighter rate limit than the global one: after an evacuation many people answer from one
    // network, and the tokens (132-bit HMAC) cannot be guessed anyway.

    open.get<{ Params: { token: string } }>(
      '/b/:token',
      { schema: { params: tokenParams } },
      async (request, reply) => {
        const answer = await readReply(db, keys.links, request.params.token, clock.now())
        reply.header('cache-control', 'no-store').header('x-robots-tag', 'noindex')
        return reply.page('reception/reply', { reply: answer, token: request.params.token, done: null })
      },
    )

    open.post<{ Params: { token: string } }>(
      '/b/:token',
      { schema: { params: tokenParams } },
      async (request, reply) => {
        const result = await answerBroadcast(db, {
          linksKey: keys.links,
          token: request.params.token,
          at: clock.now(),
          context: request.auditContext,
        })
        if (result.recorded) {
          live.emit('change', { topic: 'broadcast', id: result.broadcastId })
          if (result.rollCallId !== null) live.emit('change', { topic: 'roll-call', id: result.rollCallId })
        }
        const answer = await readReply(db, keys.links, request.params.token, clock.now())
        reply.header('cache-control', 'no-store')
        return reply.page('reception/reply', { reply: answer, token: request.params.token, done: result })
      },
    )
  })

  app.register(async (desk) => {
    desk.addHook('preHandler', app.requireCookiePerson)
    desk.addHook('preHandler', app.requireRole('reception'))
    desk.addHook('onSend', async (_request, reply) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    })
    const livePage = { scripts: ['/static/reception.js'], noscriptRefresh: fallbackRefreshSeconds }

    desk.get('/reception/events', async (_request, reply) => {
      const stream = new PassThrough()
      const send = (event: string, data: object) =>
        stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
      // Events carry no names: pages fetch their own fresh copy, which checks the role again.
      const onPresence = (change: { at: number }) => send('presence', { at: change.at })
      const onLive = (change: { topic: string; id: number }) => send(change.topic, { id: change.id })
      const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 25_000)
      const cleanup = () => {
        clearInterval(heartbeat)
        events.off('change', onPresence)
        live.off('change', onLive)
        streams.delete(stream)
      }
      events.on('change', onPresence)
      live.on('change', onLive)
      streams.add(stream)
      reply.raw.on('close', cleanup)
      stream.on('close', cleanup)
      stream.write('retry: 5000\n: connected\n\n')
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-accel-buffering', 'no')
      return reply.send(stream)
    })

    desk.get('/reception', async (_request, reply) => {
      const now = clock.now()
      const [board, rollCall] = await Promise.all([presenceBoard(db, now, tz), findActiveRollCall(db)])
      return reply.page('reception/board', { ...livePage, board, rollCall, now })
    })

    desk.get('/reception/display', async (_request, reply) => {
      const now = clock.now()
      const board = await presenceBoard(db, now, tz)
      return reply.page('reception/display', { ...livePage, board, now })
    })

    desk.get('/reception/roll-calls', async (_request, reply) => {
      const rollCalls = await listRollCalls(db, 50)
      return reply.page('reception/roll-calls', { rollCalls })
    })

    desk.post<{ Body: { kind: string } }>(
      '/reception/roll-calls',
      { ...csrf, schema: { body: textFields(['kind'], [], 10) } },
      async (request, reply) => {
        const kind = request.body.kind
        if (kind !== 'drill' && kind !== 'real')
          throw new UserError(400, 'Choose a drill or a real evacuation.')
        const { rollCall, started } = await startRollCall(db, {
          ...actor(request),
          kind: kind as RollCallKind,
          timeZone: tz,
        })
        if (started) live.emit('change', { topic: 'roll-call', id: rollCall.id })
        request.flash(
          'info',
          started
            ? `Roll call started with ${(await rollCallView(db, rollCall.id)).counts.total} people on the list.`
            : 'A roll call is already running: here it is.',
        )
        return reply.redirect(`/reception/roll-calls/${rollCall.id}`, 303)
      },
    )

    desk.get<{ Params: { id: number }; Querystring: { show?: string } }>(
      '/reception/roll-calls/:id',
      {
        schema: {
          params: idParams,
          querystring: { type: 'object', properties: { show: { type: 'string', enum: ['all', 'open'] } } },
        },
      },
      async (request, reply) => {
        const view = await rollCallView(db, request.params.id)
        const show = request.query.show === 'open' ? 'open' : 'all'
        return reply.page('reception/roll-call', {
          ...(view.rollCall.ended_at === null ? livePage : {}),
          view,
          show,
          describeStatus,
          now: clock.now(),
        })
      },
    )

    desk.get<{ Params: { id: number } }>(
      '/reception/roll-calls/:id/print',
      { schema: { params: idParams } },
      async (request, reply) => {
        const view = await rollCallView(db, request.params.id)
        return reply.page('reception/roll-call-print', {
          scripts: ['/static/reception.js'],
          view,
          describeStatus,
          now: clock.now(),
        })
      },
    )

    desk.get<{ Params: { id: number } }>(
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

    desk.post<{ Params: { id: number }; Body: { person: string; status: string } }>(
      '/reception/roll-calls/:id/marks',
      { ...csrf, schema: { params: idParams, body: textFields(['person', 'status'], [], 20) } },
      async (request, reply) => {
        const rollCallId = request.params.id
        const back = `/reception/roll-calls/${rollCallId}`
        try {
          const { status, person } = request.body
          if (status !== 'safe' && status !== 'missing' && status !== 'unaccounted') {
            throw new UserError(400, 'Mark someone safe, missing or unaccounted.')
          }
          if (!/^[1-9]\d{0,15}$/.test(person))
            throw new UserError(400, 'That person is not on this roll call.')
          await markPerson(db, { ...actor(request), rollCallId, subjectId: Number(person), status })
          live.emit('change', { topic: 'roll-call', id: rollCallId })
          if (wantsJson(request)) return { ok: true, counts: (await rollCallView(db, rollCallId)).counts }
          return reply.redirect(`${back}#p-${person}`, 303)
        } catch (error) {
          if (!(error instanceof UserError) || wantsJson(request)) throw error
          request.flash('error', error.message)
          return reply.redirect(back, 303)
        }
      },
    )

    desk.post<{ Params: { id: number } }>(
      '/reception/roll-calls/:id/end',
      { ...csrf, schema: { params: idParams } },
      async (request, reply) => {
        const ended = await endRollCall(db, { ...actor(request), rollCallId: request.params.id })
        live.emit('change', { topic: 'roll-call', id: ended.id })
        request.flash('info', 'Roll call ended. The report below is kept in the audit trail.')
        return reply.redirect(`/reception/roll-calls/${ended.id}`, 303)
      },
    )

    desk.get('/reception/broadcasts', async (_request, reply) => {
      const broadcasts = await listBroadcasts(db, 50)
      return reply.page('reception/broadcasts', { broadcasts, templates: broadcastTemplates })
    })

    const compose = (
      reply: FastifyReply,
      values: Record<string, string>,
      errors: Record<string, string> = {},
    ) =>
      reply.page('reception/broadcast-new', {
        templates: broadcastTemplates,
        templateNames,
        maxLength: maxBroadcastLength,
        values,
        errors,
      })

    desk.get<{ Querystring: { template?: string } }>(
      '/reception/broadcasts/new',
      {
        schema: {
          querystring: { type: 'object', properties: { template: { type: 'string', maxLength: 20 } } },
        },
      },
      async (request, reply) => {
        const name = (templateNames as string[]).includes(request.query.template ?? '')
          ? (request.query.template as BroadcastTemplate)
          : 'free'
        const template = broadcastTemplates[name]
        return compose(reply, {
          template: name,
          audience: 'inside',
          message: template.message,
          askSafety: template.askSafety ? 'yes' : '',
        })
      },
    )

    desk.post<{ Body: { template: string; audience: string; message: string; askSafety?: string } }>(
      '/reception/broadcasts',
      {
        ...csrf,
        schema: {
          body: textFields(['template', 'audience', 'message'], ['askSafety'], maxBroadcastLength * 2),
        },
        // Each send can cost money per person (SMS): a slip of the finger must not repeat it.
        config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
      },
      async (request, reply) => {
        const { template, audience, message } = request.body
        const values = { ...request.body, askSafety: request.body.askSafety ? 'yes' : '' }
        if (
          !(templateNames as string[]).includes(template) ||
          (audience !== 'inside' && audience !== 'everyone')
        ) {
          reply.code(422)
          return compose(reply, values, { form: 'Choose a template and who to send it to.' })
        }
        try {
          const broadcast = await createBroadcast(
            { db, timeZone: tz },
            {
              ...actor(request),
              template: template as BroadcastTemplate,
              audience: audience as BroadcastAudience,
              message,
              askSafety: Boolean(request.body.askSafety),
            },
          )
          deliver(broadcast.id)
          request.flash('info', 'Sending now. This page shows each delivery as it happens.')
          return reply.redirect(`/reception/broadcasts/${broadcast.id}`, 303)
        } catch (error) {
          if (!(error instanceof UserError)) throw error
          reply.code(error.statusCode)
          return compose(reply, values, { message: error.message })
        }
      },
    )

    desk.get<{ Params: { id: number } }>(
      '/reception/broadcasts/:id',
      { schema: { params: idParams } },
      async (request, reply) => {
        const broadcast = await findBroadcast(db, request.params.id)
        if (!broadcast) throw new UserError(404, 'There is no such message.')
        const recipients = (await listRecipients(db, broadcast.id)).map((r) => ({
          ...r,
          contactShown: r.contact_value ? maskContact(r.contact_value) : '',
        }))
        const count = (s: string) => recipients.filter((r) => r.status === s).length
        const counts = {
          total: recipients.length,
          waiting: count('pending') + count('sending'),
          sent: count('sent'),
          failed: count('failed'),
          safe: recipients.filter((r) => r.answer === 'safe').length,
          help: recipients.filter((r) => r.answer === 'help').length,
        }
        return reply.page('reception/broadcast', {
          ...livePage,
          broadcast,
          template: broadcastTemplates[broadcast.template],
          recipients,
          counts,
          now: clock.now(),
          canRetry: counts.failed > 0 || (counts.waiting > 0 && !deliveries.has(broadcast.id)),
        })
      },
    )

    desk.post<{ Params: { id: number } }>(
      '/reception/broadcasts/:id/retry',
      { ...csrf, schema: { params: idParams } },
      async (request, reply) => {
        const broadcastId = request.params.id
        const senderRunning = deliveries.has(broadcastId)
        const requeued = await retryBroadcast(db, { ...actor(request), broadcastId, senderRunning })
        if (requeued > 0) deliver(broadcastId)
        request.flash('info', requeued > 0 ? `Trying ${requeued} again.` : 'Nothing to send again.')
        return reply.redirect(`/reception/broadcasts/${request.params.id}`, 303)
      },
    )
  })
}
