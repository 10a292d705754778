import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Visit } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { UserError } from '../lib/errors.js'
import { endOfLocalDay, formatDay, formatTime, localDay } from '../lib/site-time.js'
import { insertOutbox } from '../outbox/outbox.repository.js'
import {
  addToRunningRollCall,
  auditSignOutOnRollCall,
  signOutOnRunningRollCall,
} from '../reception/roll-call.repository.js'
import { countEveryoneInside } from './occupancy.repository.js'
import {
  closeVisit,
  closeVisitUnlessSeenInside,
  correctAutoClosedVisit,
  findLatestVisit,
  findOpenVisit,
  findVisit,
  insertOpenVisit,
  recordSignedInAgain,
} from './visit.repository.js'

/**
 * Where a person stands: `in` since a time today, `out`, or `stale` — a visit left open on an
 * earlier day that only its owner can close with the real time they left.
 */
export type Presence = { state: 'in'; visit: Visit } | { state: 'out' } | { state: 'stale'; visit: Visit }

/** The site settings the register needs. */
export interface RegisterSite {
  timeZone: string
}

/** A person's presence at an instant. */
export async function presenceOf(
  db: Db,
  personId: number,
  now: number,
  site: RegisterSite,
): Promise<Presence> {
  const open = await findOpenVisit(db, personId)
  if (!open) return { state: 'out' }
  const sameDay = localDay(open.signed_in_at, site.timeZone) === localDay(now, site.timeZone)
  return sameDay ? { state: 'in', visit: open } : { state: 'stale', visit: open }
}

/** The outcome of a tap: whether anything changed, the presence after, and what to tell the person. */
export interface TapResult {
  changed: boolean
  presence: Presence
  message: string
}

interface TapRequest {
  personId: number
  now: number
  context: RequestContext
  /** The local day the page was rendered on; a tap from yesterday's page is refused. */
  pageDay?: string
  /** Marks an offline replay or other special source in the audit trail. */
  via?: string
  /** When the server received a tap saved on a device (`now` is when it was made); `now` if absent. */
  receivedAt?: number
  /** A tap saved on a device (replayTap): overtaken by a later sign-in that found the visit open, or "Still here". */
  savedOnDevice?: boolean
}

/** When the server got the tap: `now`, unless it was made earlier on a device (`receivedAt`). */
const serverTime = (request: TapRequest): number => request.receivedAt ?? request.now

function refuseStalePage(request: TapRequest, site: RegisterSite): void {
  if (request.pageDay !== undefined && request.pageDay !== localDay(request.now, site.timeZone)) {
    // 422, not 409: a phone's queue keeps a tap answered 409 and resends it later, showing the
    // person as in meanwhile; this refusal is final, and the page must say so at once.
    throw new UserError(
      422,
      'That page was from an earlier day, so nothing was changed. Here is today’s page: tap again if you still need to.',
    )
  }
}

/**
 * Closes an open visit as `auto` (nobody saw them leave: Unconfirmed on the fire list for a while)
 * at `notAfter`, or at the end of the day it began if that comes first: never later. `closedAt` is
 * when the register closes it (the server's clock), from which the fire list counts that while.
 */
export async function closeLeftOpenVisit(
  db: Db,
  visit: Visit,
  when: { notAfter: number; closedAt: number },
  site: RegisterSite,
): Promise<Visit | undefined> {
  const end = endOfLocalDay(localDay(visit.signed_in_at, site.timeZone), site.timeZone)
  return closeVisit(db, visit.id, Math.min(end, when.notAfter), 'auto', when.closedAt)
}

/**
 * Signs a person in. Idempotent: if already in, nothing changes. A visit left open on an earlier
 * day is closed first as `auto` at the end of its own day (unconfirmed), never at today's time.
 */
export async function signIn(db: Db, request: TapRequest, site: RegisterSite): Promise<TapResult> {
  refuseStalePage(request, site)
  return unitOfWork(db, async (trx) => {
    let before = await presenceOf(trx, request.personId, request.now, site)
    // Nothing changes, but they were inside at this time: a sign-out saved offline on another
    // phone before it, arriving later, must not close the visit (see replayTap). Recorded on the
    // visit unless it was closed meanwhile (another process): then they are out, and this signs them in.
    if (before.state === 'in' && !(await recordSignedInAgain(trx, before.visit.id, request.now))) {
      before = await presenceOf(trx, request.personId, request.now, site)
    }
    if (before.state === 'in') {
      return {
        changed: false,
        presence: before,
        message: `You are already signed in (since ${formatTime(before.visit.signed_in_at, site.timeZone)}).`,
      }
    }
    if (before.state === 'stale') {
      await closeLeftOpenVisit(
        trx,
        before.visit,
        { notAfter: request.now, closedAt: serverTime(request) },
        site,
      )
      await recordAudit(trx, {
        at: request.now,
        personId: request.personId,
        action: 'visit.auto-closed',
        context: request.context,
        detail: { visitId: before.visit.id, reason: 'signed in on a later day' },
      })
    }
    const visit = await insertOpenVisit(trx, request.personId, request.now)
    if (!visit) {
      const now = await presenceOf(trx, request.personId, request.now, site)
      return { changed: false, presence: now, message: 'You are already signed in.' }
    }
    await recordAudit(trx, {
      at: request.now,
      personId: request.personId,
      action: 'visit.signed-in',
      context: request.context,
      detail: { visitId: visit.id, ...(request.via ? { via: request.via } : {}) },
    })
    // A tap saved offline before the alarm, or one made during the roll call: they are inside.
    await addToRunningRollCall(trx, { personId: request.personId, signedInAt: visit.signed_in_at })
    await announce(trx, {
      personId: request.personId,
      visitId: visit.id,
      action: 'signed-in',
      at: request.now,
    })
    return {
      changed: true,
      presence: { state: 'in', visit },
      message: 'You have signed in. Don’t forget to sign out when you leave.',
    }
  })
}

/** Signs a person out of today's visit. Idempotent: if not in, nothing changes and we say so. */
export async function signOut(db: Db, request: TapRequest, site: RegisterSite): Promise<TapResult> {
  refuseStalePage(request, site)
  return unitOfWork(db, async (trx) => {
    const before = await presenceOf(trx, request.personId, request.now, site)
    if (before.state === 'out') {
      return { changed: false, presence: before, message: 'You were not signed in, so nothing changed.' }
    }
    if (before.state === 'stale') {
      return {
        changed: false,
        presence: before,
        message: `You are not signed in today. Your visit from ${formatDay(before.visit.signed_in_at, site.timeZone)} is still open: tell us when you left.`,
      }
    }
    const closed = request.savedOnDevice
      ? await closeVisitUnlessSeenInside(trx, before.visit.id, request.now, serverTime(request))
      : await closeVisit(trx, before.visit.id, request.now, 'person', serverTime(request))
    if (!closed) {
      const after = await presenceOf(trx, request.personId, request.now, site)
      // Still open: after the tap a sign-in found them inside (another device) or they said
      // "Still here", so it stays open.
      if (after.state === 'in') {
        return {
          changed: false,
          presence: after,
          message: 'You were still here after that, so nothing changed.',
        }
      }
      return { changed: false, presence: { state: 'out' }, message: 'You are already signed out.' }
    }
    await recordAudit(trx, {
      at: request.now,
      personId: request.personId,
      action: 'visit.signed-out',
      context: request.context,
      detail: { visitId: closed.id, ...(request.via ? { via: request.via } : {}) },
    })
    await signOutOnRollCall(trx, closed, request)
    await announce(trx, {
      personId: request.personId,
      visitId: closed.id,
      action: 'signed-out',
      at: request.now,
    })
    return { changed: true, presence: { state: 'out' }, message: 'You have signed out. See you again soon!' }
  })
}

/**
 * Signs a person out at a tap's own time (`request.now`) when the nightly auto-close closed their
 * latest visit after it: a sign-out saved offline before the auto-close and sent after it. The
 * visit then ends when they tapped, closed by them, and they are no longer Unconfirmed. Undefined
 * (nothing changed) unless the latest visit was closed by the auto-close, began at or before the tap
 * and was closed after it, and nothing after the tap showed them inside (a sign-in that found the
 * visit open, "Still here"; checked in the update). The update applies only while the auto-close's
 * time still stands, so a change committed meanwhile (their own "I've left", another replay) is
 * never overwritten. On a running roll call they then left before the alarm, as for any sign-out
 * dated before it.
 */
export async function signOutBeforeAutoClose(
  db: Db,
  request: TapRequest,
  site: RegisterSite,
): Promise<TapResult | undefined> {
  return unitOfWork(db, async (trx) => {
    const visit = await findLatestVisit(trx, request.personId)
    const autoClosedAt = visit?.closed_by === 'auto' ? visit.signed_out_at : null
    if (!visit || autoClosedAt === null) return undefined
    if (visit.signed_in_at > request.now || request.now >= autoClosedAt) return undefined
    // A sign-in after the tap found them still inside (another device), or they said "Still here"
    // after it: the tap is overtaken (the update checks it).
    const closed = await correctAutoClosedVisit(trx, visit.id, request.now, { unlessSeenInside: true })
    if (!closed) return undefined
    // Thrown after the update, so the unit undoes it: refused only what would have been applied.
    refuseStalePage(request, site)
    await recordAudit(trx, {
      at: request.now,
      personId: request.personId,
      action: 'visit.signed-out',
      context: request.context,
      detail: {
        visitId: visit.id,
        ...(request.via ? { via: request.via } : {}),
        wasAutoClosedAt: autoClosedAt,
      },
    })
    await signOutOnRollCall(trx, closed, request)
    // No announcement: the building's channel heard nothing of the auto-close either, and the
    // number inside has not changed. The message gives the end the auto-close had written, which the
    // tap replaces (on the tap's own day, so the two times read together), not when it ran: a late
    // run's 00:30 would read as if the register had closed the visit before the 23:55 sign-out.
    return {
      changed: true,
      presence: { state: 'out' },
      message: `Your sign-out from ${formatTime(request.now, site.timeZone)} is recorded (the register had closed your visit automatically as of ${formatTime(autoClosedAt, site.timeZone)}, not knowing you had left).`,
    }
  })
}

/** What a close request needs: whose visit, when they say they left, and who asks from where. */
interface CloseRequest {
  personId: number
  visitId: number
  leftAt: number | null
  now: number
  context: RequestContext
}

const alreadyClosed = async (trx: Db, request: CloseRequest, site: RegisterSite): Promise<TapResult> => ({
  changed: false,
  presence: await presenceOf(trx, request.personId, request.now, site),
  message: 'That visit is already closed.',
})

/** The time a person says they left, checked against their sign-in; throws a 422 to show them. */
function leftAfterSignIn(leftAt: number | null, signedInAt: number, site: RegisterSite): number {
  if (leftAt === null) throw new UserError(422, 'Enter the time you left, like 17:30.')
  if (leftAt < signedInAt) {
    throw new UserError(
      422,
      `You signed in at ${formatTime(signedInAt, site.timeZone)}, so you left after that.`,
    )
  }
  return leftAt
}

/**
 * Closes the person's visit left open on an earlier day, at the time they say they left. The time
 * must fall after the sign-in and before the end of that day (and not in the future).
 */
export async function closeStaleVisit(db: Db, request: CloseRequest, site: RegisterSite): Promise<TapResult> {
  return unitOfWork(db, async (trx) => {
    const open = await findOpenVisit(trx, request.personId)
    if (!open || open.id !== request.visitId) return alreadyClosed(trx, request, site)
    const day = localDay(open.signed_in_at, site.timeZone)
    const leftAt = leftAfterSignIn(request.leftAt, open.signed_in_at, site)
    if (leftAt > endOfLocalDay(day, site.timeZone) || leftAt > request.now) {
      throw new UserError(422, 'That time is after the end of that day. Enter the time you left that day.')
    }
    const closed = await closeVisit(trx, open.id, leftAt, 'person', request.now)
    await recordAudit(trx, {
      at: request.now,
      personId: request.personId,
      action: 'visit.closed-late',
      context: request.context,
      detail: { visitId: open.id, leftAt },
    })
    if (closed) await signOutOnRollCall(trx, closed, request)
    // Closing an earlier day's visit is a correction, not news for the building's channel.
    if (day === localDay(request.now, site.timeZone)) {
      await announce(trx, {
        personId: request.personId,
        visitId: open.id,
        action: 'signed-out',
        at: request.now,
      })
    }
    return {
      changed: true,
      presence: await presenceOf(trx, request.personId, request.now, site),
      message: `Thanks. Your visit on ${formatDay(open.signed_in_at, site.timeZone)} is closed at ${formatTime(leftAt, site.timeZone)}.`,
    }
  })
}

/**
 * Corrects a visit the nightly auto-close closed, with the time the person says they left: after
 * the sign-in and not after the auto-close (nor in the future). Closed by the person from then on.
 */
export async function correctAutoClose(
  db: Db,
  request: CloseRequest,
  site: RegisterSite,
): Promise<TapResult> {
  return unitOfWork(db, async (trx) => {
    const visit = await findVisit(trx, request.visitId)
    if (!visit || visit.person_id !== request.personId || visit.closed_by !== 'auto') {
      return alreadyClosed(trx, request, site)
    }
    const leftAt = leftAfterSignIn(request.leftAt, visit.signed_in_at, site)
    if (leftAt > (visit.signed_out_at ?? request.now) || leftAt > request.now) {
      throw new UserError(
        422,
        `The register closed that visit at ${formatTime(visit.signed_out_at ?? request.now, site.timeZone)}: enter a time before that.`,
      )
    }
    // On PostgreSQL another change (the phone's late sign-out) may have committed since the visit
    // was read: the update then finds it no longer auto-closed, and that change stands.
    const corrected = await correctAutoClosedVisit(trx, visit.id, leftAt)
    if (!corrected) return alreadyClosed(trx, request, site)
    await recordAudit(trx, {
      at: request.now,
      personId: request.personId,
      action: 'visit.closed-late',
      context: request.context,
      detail: { visitId: visit.id, leftAt, wasAutoClosedAt: visit.signed_out_at },
    })
    await signOutOnRollCall(trx, corrected, request)
    return {
      changed: true,
      presence: await presenceOf(trx, request.personId, request.now, site),
      message: `Thanks. Your visit on ${formatDay(visit.signed_in_at, site.timeZone)} is closed at ${formatTime(leftAt, site.timeZone)}.`,
    }
  })
}

/**
 * A sign-out reaching a running roll call (server/reception/): the line of the visit it closed says
 * when they left, in the unit that closes the visit, so the list never disagrees with the visit
 * (a tap, reception's Sign out, a replay, an administrator closing the visit at the time they left).
 * Made before the alarm (a tap that reached the server late): they were not inside. Made during
 * it: they still count as not accounted for until a marshal confirms them. Audited either way.
 */
export async function signOutOnRollCall(
  trx: Db,
  closed: Visit,
  request: { now: number; receivedAt?: number; context: RequestContext },
): Promise<void> {
  const signedOutAt = closed.signed_out_at!
  const line = await signOutOnRunningRollCall(trx, {
    personId: closed.person_id,
    signedInAt: closed.signed_in_at,
    signedOutAt,
  })
  if (!line) return
  await auditSignOutOnRollCall(trx, line, {
    signedOutAt,
    at: request.receivedAt ?? request.now,
    personId: closed.person_id,
    context: request.context,
    of: { visitId: closed.id },
  })
}

/** Queues the change for Slack in the same transaction, so it is announced exactly when it commits. */
async function announce(
  trx: Db,
  event: { personId: number; visitId: number; action: 'signed-in' | 'signed-out'; at: number },
): Promise<void> {
  await insertOutbox(
    trx,
    { topic: 'presence', payload: { ...event, inside: (await countEveryoneInside(trx)).total } },
    event.at,
  )
}

export { countEveryoneInside }
