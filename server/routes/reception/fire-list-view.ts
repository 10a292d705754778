import type { FastifyRequest } from 'fastify'
import type { Db } from '../../db/connect.js'
import type { Clock } from '../../lib/site-time.js'
import { describeReason, type FireListPerson, recordContactsShown } from '../../reception/presence.service.js'
import { deskActor } from './shared.js'

/** The words for why someone on the fire list is unconfirmed, as of `now` (null when in). */
export const reasonAsOf = (now: number, timeZone: string) => (p: FireListPerson) =>
  p.reason ? describeReason(p.reason, p, now, timeZone) : null

/**
 * Audits a page that showed phone numbers to the person asking. Pages refreshed live by
 * reception.js say so (x-live-refresh): only what a person opens is audited, not each refresh.
 */
export function auditContactsShown(
  db: Db,
  clock: Clock,
  request: FastifyRequest,
  page: string,
  count: number,
): Promise<void> {
  if (request.headers['x-live-refresh']) return Promise.resolve()
  return recordContactsShown(db, { ...deskActor(request, clock), page, count })
}
