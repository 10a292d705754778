import type { FastifyInstance } from 'fastify'
import { readDoorCode, useDoorCode } from '../../kiosk/door.service.js'
import { UserError } from '../../lib/errors.js'
import { presenceOf } from '../../register/register.service.js'
import { textFields } from '../schemas.js'

const codeParams = {
  type: 'object',
  required: ['code'],
  properties: { code: { type: 'string', maxLength: 80 } },
} as const

/**
 * /door/:code — what a staff phone's camera opens from the kiosk's door QR: one button to sign in
 * (or out) "at the door". The person must be recognised on this phone (device cookie).
 */
export default async function doorRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, keys, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE }
  app.addHook('preHandler', app.requireCookiePerson)
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
  })

  app.get<{ Params: { code: string } }>(
    '/door/:code',
    { schema: { params: codeParams } },
    async (request, reply) => {
      const now = clock.now()
      const reading = await readDoorCode(db, keys.kiosk, request.params.code, now)
      if (!reading.ok) throw new UserError(422, reading.reason)
      const presence = await presenceOf(db, request.person!.id, now, site)
      return reply.page('kiosk/door', { kiosk: reading.kiosk, presence, code: request.params.code })
    },
  )

  app.post<{ Params: { code: string }; Body: { action: string } }>(
    '/door/:code',
    {
      preValidation: app.csrfProtection,
      schema: { params: codeParams, body: textFields(['action'], [], 10) },
      config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const action = request.body.action === 'sign-out' ? 'sign-out' : 'sign-in'
      const now = clock.now()
      try {
        const result = await useDoorCode(
          db,
          keys.kiosk,
          {
            code: request.params.code,
            personId: request.person!.id,
            action,
            now,
            context: request.auditContext,
          },
          site,
        )
        events.announceTap(
          request.person!.id,
          { changed: result.changed, in: result.presence.state === 'in' },
          now,
        )
        request.flash(
          result.changed ? 'info' : 'error',
          `${result.message} (at the door: ${result.kiosk.name})`,
        )
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/', 303)
    },
  )
}
