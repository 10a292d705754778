import type { RequestContext } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import { UserError } from '../lib/errors.js'
import { isCheckViolation } from '../lib/http-errors.js'
import { formatTime } from '../lib/site-time.js'
import {
  type Presence,
  presenceOf,
  type RegisterSite,
  signIn,
  signOut,
  signOutBeforeAutoClose,
} from './register.service.js'
import { findLatestVisit, findOpenVisit } from './visit.repository.js'

/** How far back a tap saved offline may be replayed. */
export const REPLAY_WINDOW_MS = 12 * 60 * 60 * 1000
/** A tap sent within this time of being made was made online: the page it was made on must be today's. */
export const LIVE_TAP_MS = 60 * 1000
/** How far ahead of the server's clock a device's clock may be. */
export const CLOCK_SKEW_MS = 2 * 60 * 1000

/** A tap made on a device while it was offline, replayed later with the instant it was made. */
export interface ReplayedTap {
  personId: number
  action: 'sign-in' | 'sign-out'
  /** When the person tapped, by the device's clock (epoch ms). */
  at: number
  /**
   * When the device sent it, by the same clock. With it, the tap's age corrects a device clock
   * that is off: the tap happened `sentAt - at` ago, whatever the device thinks the time is.
   */
  sentAt?: number
  /** The local day of the page the tap was made on, when the page came from the server. */
  pageDay?: string
  /** The server's now. */
  now: number
  context: RequestContext
}

/** What became of a replayed tap: applied, or not applied because it no longer fits. */
export interface ReplayResult {
  applied: boolean
  /** True when a later change overtook the tap (it changed nothing). */
  superseded?: boolean
  presence: Presence
  message: string
}

/**
 * Reads a client's tap time: ISO-8601 with a date, a time and a zone (Z or ±hh:mm); a 422 with
 * an example otherwise.
 */
export function parseClientTime(text: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(text)
    ? Date.parse(text)
    : Number.NaN
  if (!Number.isFinite(ms)) {
    throw new UserError(422, '`at` must be an ISO-8601 time with a zone, like 2026-12-01T08:55:00Z.')
  }
  return ms
}

/**
 * When something saved on a device (a phone's tap, a kiosk's sign-in) really happened, by the
 * server's clock: its age (`sentAt - at`, both by the device's clock) back from now. Refused when
 * dated in the future beyond a little clock skew, or older than 12 hours.
 */
export function replayedAt(
  saved: { at: number; sentAt?: number; now: number },
  site: RegisterSite,
): { at: number; age: number } {
  const age = (saved.sentAt ?? saved.now) - saved.at
  if (age < -CLOCK_SKEW_MS) {
    throw new UserError(
      422,
      'That tap is dated in the future, so it was not applied. Check the clock on this device.',
    )
  }
  const at = saved.now - Math.max(age, 0)
  if (age > REPLAY_WINDOW_MS) {
    throw new UserError(
      422,
      `That tap was saved at ${formatTime(at, site.timeZone)}, more than 12 hours ago, so it was not applied. Tell reception if the register is wrong.`,
    )
  }
  return { at, age }
}

/**
 * Applies a tap saved offline at its original time. It must fall within the last 12 hours (and not
 * in the future beyond a little clock skew); with `sentAt` its age, not the device's clock, decides.
 * A tap older than the person's last recorded change (e.g. a sign-out made before a visit that
 * began later) is superseded and changes nothing, so the register never goes back in time; taps
 * should be replayed oldest first. One change does not overtake a sign-out: the nightly auto-close.
 * A sign-out made before it closed the visit (at 23:55, with no signal, sent after the 23:59
 * auto-close) ends that visit at the tap's time instead, as the person's own sign-out, so they are
 * no longer Unconfirmed (`signOutBeforeAutoClose`).
 */
export async function replayTap(db: Db, tap: ReplayedTap, site: RegisterSite): Promise<ReplayResult> {
  const { at, age } = replayedAt(tap, site)
  // A tap sent at once was made online, on the page in front of the person: the stale-page rule
  // applies as to a form post. Taps that waited on the device are offline replays with their own time.
  const live = age <= LIVE_TAP_MS
  const request = {
    personId: tap.personId,
    now: at,
    context: tap.context,
    via: live ? 'page' : 'offline-replay',
    pageDay: live ? tap.pageDay : undefined,
    receivedAt: tap.now,
    savedOnDevice: true,
  }
  const result = await applyUnlessOvertaken(db, tap, request, site)
  if (result.applied || tap.action !== 'sign-out') return result
  // Overtaken, or not signed in: the auto-close may have closed the visit after the tap was made,
  // before the tap arrived or while signOut waited for the visit's row (another process).
  const late = await signOutBeforeAutoClose(db, request, site)
  return late ? { applied: true, presence: late.presence, message: late.message } : result
}

/** The tap applied as made, unless a later change overtook it. */
async function applyUnlessOvertaken(
  db: Db,
  tap: ReplayedTap,
  request: Parameters<typeof signIn>[1],
  site: RegisterSite,
): Promise<ReplayResult> {
  const at = request.now
  const superseded = async (): Promise<ReplayResult> => ({
    applied: false,
    superseded: true,
    presence: await presenceOf(db, tap.personId, tap.now, site),
    message: `Your ${tap.action === 'sign-in' ? 'sign-in' : 'sign-out'} from ${formatTime(at, site.timeZone)} was overtaken by a later change, so it was not applied.`,
  })
  const latest = await findLatestVisit(db, tap.personId)
  // A sign-in that found the visit open (another device, reception) is a change here too: the
  // person was inside then, so a sign-out tapped before it must not close the visit.
  const lastChange = latest
    ? Math.max(latest.signed_in_at, latest.signed_out_at ?? 0, latest.signed_in_again_at ?? 0)
    : 0
  if (at < lastChange) return superseded()
  if (tap.action === 'sign-out') {
    const open = await findOpenVisit(db, tap.personId)
    if (open && open.signed_in_at > at) return superseded()
    // "Still here" after the tap overtakes it too: signOut's update checks that (and a later sign-in
    // again), so one committing while it waits for the visit (PostgreSQL) still counts.
  }
  const action = tap.action === 'sign-in' ? signIn : signOut
  try {
    const result = await action(db, request, site)
    // A sign-out that left the visit open: a sign-in or "Still here" after the tap overtook it.
    if (tap.action === 'sign-out' && !result.changed && result.presence.state === 'in') return superseded()
    return { applied: result.changed, presence: result.presence, message: result.message }
  } catch (error) {
    // A concurrent tap can move the visit between our check and the write; the CHECK constraint
    // (sign-out never before sign-in) then refuses it, which is exactly "superseded".
    if (isCheckViolation(error)) return superseded()
    throw error
  }
}
