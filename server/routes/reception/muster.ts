import type { FastifyInstance } from 'fastify'
import { checkInAtMusterPoint, musterState } from '../../reception/roll-call.service.js'
import { qrDataUrl } from '../kiosk/qr.js'
import { textFields } from '../schemas.js'
import { deskActor, type ReceptionOptions } from './shared.js'

const pointQuery = {
  type: 'object',
  properties: { point: { type: 'string', maxLength: 60 } },
} as const

/** The assembly point's name as given, trimmed; null when none. */
const pointName = (text: string | undefined) => text?.trim().replace(/\s+/g, ' ') || null

/** The page a poster's QR code opens, for an assembly point (or the only one). */
const musterPath = (point: string | null) =>
  point ? `/muster?${new URLSearchParams({ point }).toString()}` : '/muster'

/** /reception/muster: the printable QR poster for a fire assembly point (reception role). */
export async function musterPosterRoutes(app: FastifyInstance): Promise<void> {
  const { config } = app.ctx
  app.get<{ Querystring: { point?: string } }>(
    '/reception/muster',
    { schema: { querystring: pointQuery } },
    async (request, reply) => {
      const point = pointName(request.query.point)
      const link = `${config.PUBLIC_URL}${musterPath(point)}`
      return reply.page('reception/muster-poster', {
        scripts: ['/static/reception.js'],
        point,
        link,
        qr: await qrDataUrl(link),
      })
    },
  )
}

/**
 * /muster: someone at the assembly point scans the poster and marks themselves safe on the running
 * roll call. Signed-in people only (their device cookie says who they are); every marshal's list
 * shows it at once.
 */
export async function musterCheckInRoutes(app: FastifyInstance, { live }: ReceptionOptions): Promise<void> {
  const { db, clock } = app.ctx
  app.get<{ Querystring: { point?: string } }>(
    '/muster',
    { schema: { querystring: pointQuery } },
    async (request, reply) => {
      const state = await musterState(db, request.person!.id)
      return reply.page('reception/muster', { point: pointName(request.query.point), state })
    },
  )

  app.post<{ Body: { point?: string } }>(
    '/muster',
    { preValidation: app.csrfProtection, schema: { body: textFields([], ['point'], 60) } },
    async (request, reply) => {
      const point = pointName(request.body.point)
      const rollCall = await checkInAtMusterPoint(db, { ...deskActor(request, clock), point })
      if (rollCall) {
        live.emit('change', { topic: 'roll-call', id: rollCall.id })
        request.flash(
          'info',
          'Thank you: you are marked safe. Stay at the assembly point until a marshal says otherwise.',
        )
      } else {
        request.flash('error', 'No roll call is running now, so nothing was recorded.')
      }
      return reply.redirect(musterPath(point), 303)
    },
  )
}
