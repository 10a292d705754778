import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { revokeOwnDevice } from '../../identity/profile.service.js'
import { gateSelfSignIn } from '../../kiosk/door.service.js'
import { PRIVATE_PAGE } from '../../lib/cache-policy.js'
import { UserError } from '../../lib/errors.js'
import { localDateTime, localDay } from '../../lib/site-time.js'
import {
  closeStaleVisit,
  countEveryoneInside,
  presenceOf,
  signIn,
  signOut,
  type TapResult,
} from '../../register/register.service.js'
import { idParams, textFields } from '../schemas.js'

/** The signed-in home page: one big button, and the taps behind it. */
export default async function registerRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE }
  app.addHook('preHandler', app.requireCookiePerson)
  const csrf = { preValidation: app.csrfProtection }

  const home = async (request: FastifyRequest, reply: FastifyReply, data: Record<string, unknown> = {}) => {
    const now = clock.now()
    const person = request.person!
    const [presence, inside] = await Promise.all([
      presenceOf(db, person.id, now, site),
      countEveryoneInside(db).then((c) => c.total),
    ])
    return reply.page('register/home', {
      presence,
      inside,
      today: localDay(now, config.TIME_ZONE),
      renderedAt: now,
      ...data,
    })
  }

  app.get('/', async (request, reply) => {
    reply.header('cache-control', PRIVATE_PAGE)
    return home(request, reply)
  })

  const tap =
    (action: typeof signIn) =>
    async (request: FastifyRequest<{ Body: { day?: string } }>, reply: FastifyReply) => {
      let result: TapResult
      try {
        result = await action(
          db,
          {
            personId: request.person!.id,
            now: clock.now(),
            context: request.auditContext,
            pageDay: request.body.day ?? '',
          },
          site,
        )
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
        return reply.redirect('/', 303)
      }
      events.announceTap(
        request.person!.id,
        { changed: result.changed, in: result.presence.state === 'in' },
        clock.now(),
      )
      request.flash(result.changed ? 'info' : 'error', result.message)
      return reply.redirect('/', 303)
    }
  const tapSchema = { schema: { body: textFields([], ['day'], 10) } }
  app.post<{ Body: { day?: string } }>(
    '/sign-in',
    { ...csrf, ...tapSchema },
    tap(gateSelfSignIn(config.REQUIRE_DOOR_CODE, signIn)),
  )
  app.post<{ Body: { day?: string } }>('/sign-out', { ...csrf, ...tapSchema }, tap(signOut))

  app.post<{ Params: { id: number }; Body: { time: string } }>(
    '/visits/:id/close',
    { ...csrf, schema: { params: idParams, body: textFields(['time'], [], 10) } },
    async (request, reply) => {
      const now = clock.now()
      const presence = await presenceOf(db, request.person!.id, now, site)
      const day = presence.state === 'stale' ? localDay(presence.visit.signed_in_at, config.TIME_ZONE) : ''
      try {
        const result = await closeStaleVisit(
          db,
          {
            personId: request.person!.id,
            visitId: request.params.id,
            leftAt: localDateTime(day, request.body.time.trim(), config.TIME_ZONE),
            now,
            context: request.auditContext,
          },
          site,
        )
        if (result.changed) events.emit('change', { personId: request.person!.id, action: 'closed', at: now })
        request.flash('info', result.message)
        return reply.redirect('/', 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode)
        return home(request, reply, { errors: { time: error.message }, values: request.body })
      }
    },
  )

  app.post('/logout', csrf, async (request, reply) => {
    await revokeOwnDevice(
      db,
      { personId: request.person!.id, at: clock.now(), context: request.auditContext },
      request.device!.id,
    )
    reply.clearDeviceCookie()
    request.flash('info', 'You have logged out of this device.')
    return reply.redirect('/login', 303)
  })
}
