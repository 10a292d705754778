import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Visitor } from '../db/database.js'
import { compareNames } from '../kiosk/name-search.js'
import { UserError } from '../lib/errors.js'
import { auditSignOutOnRollCall } from '../reception/roll-call.repository.js'
import {
  insertVisitorSnapshot,
  listVisitorRollCallLines,
  setVisitorMark,
  signOutVisitorOnRunningRollCall,
  type VisitorRollCallLine,
} from './visitor-roll-call.repository.js'

export type { VisitorRollCallLine }
export { insertVisitorSnapshot as snapshotVisitors }

/** A roll call's visitors, by name. */
export async function visitorRollCallLines(db: Db, rollCallId: number): Promise<VisitorRollCallLine[]> {
  return (await listVisitorRollCallLines(db, rollCallId)).sort(
    (a, b) => compareNames(a.name, b.name) || a.visitorId - b.visitorId,
  )
}

/**
 * A visitor's sign-out reaching a running roll call: their line says when they left, in the unit
 * that closes the visit, so the list never disagrees with the register. Made before the alarm (a
 * kiosk's sign-out sent late): they were not inside. Made during it: they still count as not
 * accounted for until a marshal confirms them. Audited either way, by whoever signed them out.
 */
export async function signOutOnRollCall(
  trx: Db,
  closed: Visitor,
  request: { now: number; personId: number | null; context: RequestContext },
): Promise<void> {
  const signedOutAt = closed.signed_out_at!
  const line = await signOutVisitorOnRunningRollCall(trx, { visitorId: closed.id, signedOutAt })
  if (!line) return
  await auditSignOutOnRollCall(trx, line, {
    signedOutAt,
    at: request.now,
    personId: request.personId,
    context: request.context,
    of: { visitorId: closed.id },
  })
}

/**
 * A visitor's own answer to a broadcast ("I'm safe" / "I need help") on a roll call, marked as
 * theirs; false when they are not on it or a later mark stands.
 */
export async function markVisitorSelf(
  trx: Db,
  request: { rollCallId: number; visitorId: number; status: 'safe' | 'help'; at: number },
): Promise<boolean> {
  const marked = await setVisitorMark(trx, { ...request, by: null, via: 'self' })
  return marked === 'marked'
}

/**
 * A marshal marks a visitor on a roll call (the caller checks it may still be marked, in the same
 * transaction); merged by the time of the mark like staff marks. Audited, applied or overtaken;
 * false when a later mark stood.
 */
export async function markVisitorOnRollCall(
  trx: Db,
  request: {
    rollCallId: number
    visitorId: number
    status: 'safe' | 'missing' | 'unaccounted'
    personId: number
    at: number
    /** When the server received it, for a mark made offline and sent later. */
    receivedAt?: number
    offline?: boolean
    context: RequestContext
  },
): Promise<boolean> {
  const marked = await setVisitorMark(trx, {
    rollCallId: request.rollCallId,
    visitorId: request.visitorId,
    status: request.status,
    by: request.personId,
    at: request.at,
  })
  if (marked === 'absent') throw new UserError(404, 'That visitor is not on this roll call.')
  await recordAudit(trx, {
    at: request.receivedAt ?? request.at,
    personId: request.personId,
    action: 'roll-call.visitor-marked',
    context: request.context,
    detail: {
      rollCallId: request.rollCallId,
      visitorId: request.visitorId,
      status: request.status,
      ...(request.offline ? { markedAt: request.at, offline: true } : {}),
      ...(marked === 'overtaken' ? { overtaken: true } : {}),
    },
  })
  return marked === 'marked'
}
