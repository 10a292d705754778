import type { FastifyInstance } from 'fastify'
import { tapForPerson } from '../../reception/presence.service.js'
import { idParams } from '../schemas.js'
import { deskActor } from './shared.js'

/** POST /reception/people/:id/sign-in|sign-out: reception signs a person in or out from the board. */
export default async function deskTapRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE }
  for (const action of ['sign-in', 'sign-out'] as const) {
    app.post<{ Params: { id: number } }>(
      `/reception/people/:id/${action}`,
      { preValidation: app.csrfProtection, schema: { params: idParams } },
      async (request, reply) => {
        const actor = deskActor(request, clock)
        const result = await tapForPerson(db, { ...actor, subjectId: request.params.id, action }, site)
        events.announceTap(request.params.id, { changed: result.changed, in: result.inside }, actor.at)
        request.flash(result.changed ? 'info' : 'error', result.message)
        return reply.redirect('/reception', 303)
      },
    )
  }
}
