import type { FastifyInstance } from 'fastify'
import { formatTime } from '../../lib/site-time.js'
import {
  checkInInvitation,
  invitationDeps,
  invitationForKiosk,
  requireUsableToday,
} from '../../visitors/invitation.service.js'

const str = (maxLength: number) => ({ type: 'string', maxLength }) as const
/** What the kiosk presents: the link its camera read from the QR code, or the code the visitor typed. */
const presented = {
  type: 'object',
  properties: { _csrf: str(200), link: str(500), code: str(40) },
} as const

/**
 * A pre-registered visitor at the kiosk: the camera reads their invitation's QR code (or they type
 * its short code), the kiosk shows their name to confirm, then checks them in. Kiosk token only.
 */
export default async function kioskInvitationRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const tz = config.TIME_ZONE
  const deps = invitationDeps(app.ctx)
  const csrf = { preValidation: app.csrfProtection }
  // 40-bit codes, valid on one day, behind a paired kiosk: a few tries a minute find none.
  const limited = { rateLimit: { max: 20, timeWindow: '1 minute' } }

  // Shows who the invitation is for, so the visitor confirms before anything changes.
  app.post<{ Body: { link?: string; code?: string } }>(
    '/kiosk/api/invitations/find',
    { ...csrf, schema: { body: presented }, config: limited },
    async (request) => {
      const visitor = await invitationForKiosk(deps, request.body)
      requireUsableToday(visitor, clock.now(), tz)
      return {
        name: visitor.name,
        company: visitor.company,
        host: visitor.hostFirstName === null ? '' : `${visitor.hostFirstName} ${visitor.hostLastName}`,
      }
    },
  )

  app.post<{ Body: { link?: string; code?: string } }>(
    '/kiosk/api/invitations/check-in',
    { ...csrf, schema: { body: presented }, config: limited },
    async (request, reply) => {
      const visitor = await invitationForKiosk(deps, request.body)
      const now = clock.now()
      const arrived = await checkInInvitation(db, {
        visitor,
        now,
        timeZone: tz,
        source: {
          via: 'kiosk',
          kiosk: { id: request.kiosk!.id, name: request.kiosk!.name },
          personId: null,
          context: request.auditContext,
        },
      })
      events.announceVisitor(arrived.id, { changed: true, in: true }, now)
      reply.code(201)
      const host = visitor.hostFirstName === null ? null : `${visitor.hostFirstName} ${visitor.hostLastName}`
      return {
        visitorId: arrived.id,
        message: `Welcome, ${arrived.name}. You signed in at ${formatTime(now, tz)}.${
          host ? ` We are letting ${host} know you are here.` : ' Reception will let your host know.'
        }`,
        badge: `/kiosk/badge/${arrived.id}`,
      }
    },
  )
}
