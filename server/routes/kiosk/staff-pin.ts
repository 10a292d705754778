import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hasStaffPin, removeStaffPin, setStaffPin } from '../../kiosk/staff-pin.service.js'
import { UserError } from '../../lib/errors.js'
import { deskActor } from '../reception/shared.js'
import { textFields } from '../schemas.js'

/** /profile/pin: a member of staff sets the PIN they use at a kiosk when they do not have their phone. */
export default async function staffPinRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock } = app.ctx
  app.addHook('preHandler', app.requireCookiePerson)
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest) => deskActor(request, clock)
  const page = async (request: FastifyRequest, reply: FastifyReply, data: Record<string, unknown> = {}) => {
    reply.header('cache-control', 'no-store')
    return reply.page('kiosk/pin', { hasPin: await hasStaffPin(db, request.person!.id), ...data })
  }

  app.get('/profile/pin', async (request, reply) => page(request, reply))

  app.post<{ Body: { pin: string; confirm: string } }>(
    '/profile/pin',
    {
      ...csrf,
      schema: { body: textFields(['pin', 'confirm'], [], 20) },
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      try {
        if (request.body.pin !== request.body.confirm)
          throw new UserError(422, 'The two PINs are not the same.')
        await setStaffPin(db, actor(request), request.body.pin.trim())
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode)
        return page(request, reply, { errors: { pin: error.message } })
      }
      request.flash('info', 'Your kiosk PIN is set. At a kiosk, choose “Staff without your phone”.')
      return reply.redirect('/profile/pin', 303)
    },
  )

  app.post('/profile/pin/remove', csrf, async (request, reply) => {
    await removeStaffPin(db, actor(request))
    request.flash('info', 'Your kiosk PIN is removed.')
    return reply.redirect('/profile/pin', 303)
  })
}
