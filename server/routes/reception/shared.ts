import type { FastifyRequest } from 'fastify'
import type { Clock } from '../../lib/site-time.js'
import type { ReceptionEvents } from '../../reception/live-events.js'
import type { Actor } from '../../reception/roll-call.service.js'

/** What reception's area plugins share: the announcements their live pages listen to. */
export interface ReceptionOptions {
  live: ReceptionEvents
}

/** How often pages refresh themselves when live updates are not available (no JS). */
const fallbackRefreshSeconds = 30

/** Page options for a page that updates itself live (server-sent events, or a refresh without JS). */
export const livePage = { scripts: ['/static/reception.js'], noscriptRefresh: fallbackRefreshSeconds }

/** The signed-in member of staff acting now, as the audit trail records them. */
export const deskActor = (request: FastifyRequest, clock: Clock): Actor => ({
  personId: request.person!.id,
  at: clock.now(),
  context: request.auditContext,
})
