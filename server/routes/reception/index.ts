import type { FastifyInstance } from 'fastify'
import boardRoutes from './board.js'
import broadcastRoutes from './broadcasts.js'
import deskTapRoutes from './desk-taps.js'
import eventRoutes from './events.js'
import { musterCheckInRoutes, musterPosterRoutes } from './muster.js'
import replyLinkRoutes from './reply-links.js'
import rollCallRoutes from './roll-calls.js'
import type { ReceptionOptions } from './shared.js'
import visitorRoutes from './visitors.js'

/**
 * Reception: the live presence board and its large display, fire roll calls, broadcasts, and the
 * public reply links people answer broadcasts with. Pages update live over server-sent events.
 * Each area is its own plugin; a new area is a new file registered here with one line.
 */
export default async function receptionRoutes(app: FastifyInstance): Promise<void> {
  const shared: ReceptionOptions = { live: app.ctx.live }

  await app.register(replyLinkRoutes, shared)

  // Anyone signed in: the muster-point check-in a poster's QR code opens.
  await app.register(async (signedIn) => {
    signedIn.addHook('preHandler', app.requireCookiePerson)
    await signedIn.register(musterCheckInRoutes, shared)
  })

  await app.register(async (desk) => {
    desk.addHook('preHandler', app.requireCookiePerson)
    desk.addHook('preHandler', app.requireRole('reception'))
    desk.addHook('onSend', async (_request, reply) => {
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    })
    await desk.register(eventRoutes, shared)
    await desk.register(boardRoutes)
    await desk.register(deskTapRoutes)
    await desk.register(rollCallRoutes, shared)
    await desk.register(musterPosterRoutes)
    await desk.register(broadcastRoutes, shared)
    await desk.register(visitorRoutes)
  })
}
