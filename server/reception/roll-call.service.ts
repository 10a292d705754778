import { stringify } from 'csv-stringify/sync'
import { DateTime } from 'luxon'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { RollCall, RollCallKind, RollCallStatus } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { findPersonById } from '../identity/person.repository.js'
import { UserError } from '../lib/errors.js'
import { formatTime } from '../lib/site-time.js'
import { REPLAY_WINDOW_MS } from '../register/offline-replay.js'
import { waitForSignInsInFlight } from '../register/visit.repository.js'
import { csvOptions } from '../reports/export.js'
import { putAnsweringVisitorOnRunningRollCall, visitorsSignedOutSince } from '../visitors/visitor.service.js'
import { visitorLineStanding } from '../visitors/visitor-roll-call.repository.js'
import {
  markVisitorOnRollCall,
  markVisitorSelf,
  snapshotVisitors,
  type VisitorRollCallLine,
  visitorRollCallLines,
} from '../visitors/visitor-roll-call.service.js'
import { listRecentAnswers } from './broadcast.repository.js'
import { listPhonesOf, listVisitsClosedSince } from './presence.repository.js'
import {
  asFireListVisitor,
  byName,
  describeReason,
  describeVisitorReason,
  type FireListPerson,
  type FireListSettings,
  type FireListVisitor,
  fireList,
  staffOnFireList,
  tellApart,
  timeAround,
} from './presence.service.js'
import {
  auditSignOutOnRollCall,
  claimMarkReceipt,
  endRollCall as closeRollCall,
  findActiveRollCall,
  findMark,
  findRollCall,
  insertRollCall,
  insertSnapshot,
  lineStanding,
  listMarksMade,
  listRollCallLines,
  listRollCalls,
  type MarkMade,
  type RollCallLine,
  upsertMark,
} from './roll-call.repository.js'

/** Who did something, when, from where. */
export interface Actor {
  personId: number
  at: number
  context: RequestContext
}

/**
 * Accounted (marked safe on the list) and unaccounted (everyone else on it, and anyone off it who
 * needs help or is missing), with the details.
 */
export interface RollCallCounts {
  total: number
  accounted: number
  unaccounted: number
  missing: number
  help: number
  unmarked: number
}

/** A line of a roll call as marshals see it: what tells same-named people apart, how to call them. */
export interface RollCallViewLine extends RollCallLine {
  tellApart: string | null
  /** The person's phone number (E.164), for the reception role's tap-to-call; null when none. */
  phone: string | null
}

/** A roll call as the marshals' page and the report show it. */
export interface RollCallView {
  rollCall: RollCall
  startedByName: string | null
  endedByName: string | null
  lines: RollCallViewLine[]
  /**
   * Visitors inside when it started or signing in since (server/visitors/), with their host and
   * phone, and those put on it by their own answer after the start (not `onSnapshot`).
   */
  visitors: VisitorRollCallLine[]
  /** Everyone on the list, staff and visitors. */
  counts: RollCallCounts
}

/**
 * Starts a roll call (a drill or the real thing) with a snapshot of the fire list: everyone in,
 * and everyone unconfirmed with the reason. A roll call already running is returned instead, so
 * two marshals tapping "start" at once end up on the same list.
 */
export async function startRollCall(
  db: Db,
  request: Actor & { kind: RollCallKind; fireList: FireListSettings },
): Promise<{ rollCall: RollCall; started: boolean }> {
  return unitOfWork(db, async (trx) => {
    const running = await findActiveRollCall(trx)
    if (running) return { rollCall: running, started: false }
    const rollCall = await insertRollCall(trx, { kind: request.kind, at: request.at, by: request.personId })
    if (!rollCall) return { rollCall: (await findActiveRollCall(trx))!, started: false }
    // A sign-in committing meanwhile (another connection) must be on the list, or see this roll call.
    await waitForSignInsInFlight(trx)
    const list = await fireList(trx, request.at, request.fireList)
    const inside = staffOnFireList(list)
    const leftDuring = await signedOutSince(trx, request.at, inside)
    await insertSnapshot(trx, rollCall.id, [...inside, ...leftDuring])
    const visitorsLeftDuring = await visitorsSignedOutDuring(trx, request.at, list.visitors)
    await snapshotVisitors(trx, rollCall.id, [...list.visitors, ...visitorsLeftDuring])
    // Audited as a sign-out reaching a running roll call is: signed out during the alarm.
    const signedOutDuring = [
      ...leftDuring.map((l) => ({
        signedOutAt: l.signedOutAt,
        personId: l.personId,
        of: { visitId: l.visitId },
      })),
      ...visitorsLeftDuring.map((v) => ({
        signedOutAt: v.signedOutAt,
        personId: null,
        of: { visitorId: v.visitorId },
      })),
    ]
    for (const signOut of signedOutDuring) {
      await auditSignOutOnRollCall(
        trx,
        { rollCallId: rollCall.id, startedAt: rollCall.started_at },
        { ...signOut, at: request.at, context: request.context },
      )
    }
    // Answers to a broadcast sent just before the roll call count: people may answer first.
    for (const answer of await listRecentAnswers(trx, request.at - answerWindowMs)) {
      const visitor = answer.personId === null
      const carried = visitor
        ? await markVisitorAnswer(trx, {
            rollCallId: rollCall.id,
            visitorId: answer.visitorId!,
            status: answer.answer,
            at: answer.answeredAt,
            // One off the list is put on it by this answer, once the start has read the list.
            putOnAt: request.at,
          })
        : await upsertMark(trx, {
            rollCallId: rollCall.id,
            personId: answer.personId!,
            status: answer.answer,
            via: 'self',
            by: answer.personId,
            at: answer.answeredAt,
          })
      // Audited as every mark is: the drill report reads when someone off the list was sought from.
      if (carried) {
        await recordAudit(trx, {
          at: request.at,
          personId: answer.personId,
          action: 'roll-call.self-reported',
          context: request.context,
          detail: {
            rollCallId: rollCall.id,
            ...(visitor ? { visitorId: answer.visitorId } : {}),
            status: answer.answer,
            markedAt: answer.answeredAt,
            carried: true,
          },
        })
      }
    }
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'roll-call.started',
      context: request.context,
      detail: { rollCallId: rollCall.id, kind: rollCall.kind, inside: inside.length, ...list.counts },
    })
    return { rollCall, started: true }
  })
}

/**
 * People who signed out at or after the roll call's instant in a transaction that committed before
 * it read the fire list (its start waits for taps in flight): not on the list, since their visit is
 * closed, yet they were inside when the alarm rang. As for a sign-out reaching a running roll call,
 * they are on it, signed out during the alarm, not accounted for until a marshal finds them. Only
 * a close someone saw (the person, reception, an administrator); the fire list itself keeps those
 * closed unseen. Each person once, by their latest visit.
 */
async function signedOutSince(
  trx: Db,
  at: number,
  listed: readonly FireListPerson[],
): Promise<(FireListPerson & { signedOutAt: number; visitId: number })[]> {
  const seen = new Set(listed.map((p) => p.personId))
  const lines: (FireListPerson & { signedOutAt: number; visitId: number })[] = []
  for (const row of await listVisitsClosedSince(trx, at)) {
    if (seen.has(row.personId) || (row.closedBy !== 'person' && row.closedBy !== 'admin')) continue
    seen.add(row.personId)
    lines.push({
      personId: row.personId,
      firstName: row.firstName,
      lastName: row.lastName,
      group: 'in',
      signedInAt: row.signedInAt,
      lastActivityAt: row.signedInAt,
      stillHereAt: null,
      reason: null,
      tellApart: null,
      signedOutAt: row.signedOutAt,
      visitId: row.visitId,
    })
  }
  return lines
}

/**
 * Visitors who signed out at or after the roll call's instant in a transaction that committed before
 * it read the fire list, as `signedOutSince` finds staff: not on the list, yet inside when the alarm
 * rang, so on it, signed out during the alarm, not accounted for until a marshal finds them.
 */
async function visitorsSignedOutDuring(
  trx: Db,
  at: number,
  listed: readonly FireListVisitor[],
): Promise<(FireListVisitor & { signedOutAt: number })[]> {
  const seen = new Set(listed.map((v) => v.visitorId))
  return (await visitorsSignedOutSince(trx, at))
    .filter((v) => !seen.has(v.visitorId))
    .map((v) => ({ ...asFireListVisitor(v), signedOutAt: v.signedOutAt }))
}

async function requireRunning(db: Db, rollCallId: number): Promise<RollCall> {
  const rollCall = await findRollCall(db, rollCallId)
  if (!rollCall) throw new UserError(404, 'There is no such roll call.')
  if (rollCall.ended_at !== null)
    throw new UserError(409, 'This roll call has ended, so marks can no longer change.')
  return rollCall
}

/** Who a mark is for: a person on the list (staff) or a visitor. */
export type MarkSubject = { person: number } | { visitor: number }

/** A marshal's mark, perhaps made on a phone with no signal and sent later. */
export interface MarkRequest extends Actor {
  rollCallId: number
  subject: MarkSubject
  status: 'safe' | 'missing' | 'unaccounted'
  /**
   * The phone's key for a mark saved on it: a mark arriving again with the same key (the answer
   * to the first send was lost) changes nothing. With a key, `at` is when the mark was made.
   */
  key?: string
  /** When the server received it; `at` when absent. */
  receivedAt?: number
}

/** What became of a mark. */
export interface MarkOutcome {
  /** False when a mark made later was already there (it stays), or when this one came twice. */
  applied: boolean
  /** True when this key had already been received: the first one counted, this one did nothing. */
  duplicate: boolean
}

/**
 * "Not accounted for" is where a line on the list starts; off the list (someone who never signed
 * in, or whose sign-out from before the alarm reached it late) it means nobody is looking for them.
 * Putting such a line back there would drop their call for help or the search for them, so a
 * marshal marks them Safe when found, or Missing.
 */
export function refuseUndoOffList(status: RollCallStatus): void {
  if (status === 'unaccounted')
    throw new UserError(
      422,
      'They were not on the list when the alarm rang, so they cannot be put back to not accounted for: mark them Safe once found, or Missing.',
    )
}

/**
 * A marshal marks someone on the roll call (on the list, or off it with a mark of their own, such
 * as an "I need help"; or a visitor) safe, missing, or back to unaccounted. Marks
 * are merged by the time they were made, so a mark replayed from a phone that was offline never
 * overwrites a later one; every mark, applied or overtaken, is in the audit trail. A replayed mark
 * (with a key) counts once however often it arrives, and one made before the roll call ended still
 * counts when it arrives after the end.
 */
export async function markOnRollCall(db: Db, request: MarkRequest): Promise<MarkOutcome> {
  return unitOfWork(db, async (trx) => {
    const rollCall = await findRollCall(trx, request.rollCallId)
    if (!rollCall) throw new UserError(404, 'There is no such roll call.')
    const replayed = request.key !== undefined
    if (rollCall.ended_at !== null && (!replayed || request.at > rollCall.ended_at)) {
      // 422, not 409: a phone's queue drops a mark refused for good rather than retrying it.
      throw new UserError(
        replayed ? 422 : 409,
        replayed
          ? 'This roll call had ended before that mark was made, so it was not applied.'
          : 'This roll call has ended, so marks can no longer change.',
      )
    }
    // A phone's clock a little behind the server's must not date a mark before the start.
    const at = Math.max(request.at, rollCall.started_at)
    if (
      replayed &&
      !(await claimMarkReceipt(trx, {
        key: `${request.personId}:${request.key}`,
        rollCallId: rollCall.id,
        at: request.receivedAt ?? request.at,
      }))
    ) {
      return { applied: false, duplicate: true }
    }
    const subject = request.subject
    let applied: boolean
    if ('visitor' in subject) {
      if ((await visitorLineStanding(trx, rollCall.id, subject.visitor)) === 'off-list')
        refuseUndoOffList(request.status)
      applied = await markVisitorOnRollCall(trx, {
        ...request,
        at,
        visitorId: subject.visitor,
        offline: replayed,
      })
    } else {
      // Anyone with a line: on the list, or off it and marked (asked for help, checked in), whom a
      // marshal may find and mark safe; nobody else.
      const standing = await lineStanding(trx, rollCall.id, subject.person)
      if (!standing) throw new UserError(404, 'That person is not on this roll call.')
      if (standing === 'off-list') refuseUndoOffList(request.status)
      applied = await upsertMark(trx, {
        rollCallId: rollCall.id,
        personId: subject.person,
        status: request.status,
        via: 'marshal',
        by: request.personId,
        at,
      })
      await recordAudit(trx, {
        at: request.receivedAt ?? at,
        personId: request.personId,
        action: 'roll-call.marked',
        context: request.context,
        detail: {
          rollCallId: rollCall.id,
          subjectId: subject.person,
          status: request.status,
          ...(replayed ? { markedAt: at, offline: true } : {}),
          ...(applied ? {} : { overtaken: true }),
        },
      })
    }
    return { applied, duplicate: false }
  })
}

/** Where a person stands on the running roll call, for the muster-point page. */
export interface MusterState {
  rollCall: RollCall
  /** Their mark, if any (their own or a marshal's). */
  mark: { status: RollCallStatus; markedAt: number } | undefined
}

/** The running roll call and the person's mark on it; undefined when none is running. */
export async function musterState(db: Db, personId: number): Promise<MusterState | undefined> {
  const rollCall = await findActiveRollCall(db)
  if (!rollCall) return undefined
  return { rollCall, mark: await findMark(db, rollCall.id, personId) }
}

/**
 * A person at the assembly point scans its poster and says they are safe: marked safe on the
 * running roll call by "self" (whether or not they were on the list: someone who never tapped in
 * is better found here than searched for), audited with the point. Undefined when none is running.
 */
export async function checkInAtMusterPoint(
  db: Db,
  request: Actor & { point: string | null },
): Promise<RollCall | undefined> {
  return unitOfWork(db, async (trx) => {
    const rollCall = await findActiveRollCall(trx)
    if (!rollCall) return undefined
    await markSelf(trx, rollCall.id, request, 'safe', {
      action: 'roll-call.muster-check-in',
      detail: { point: request.point },
    })
    return rollCall
  })
}

/** How long before a roll call a broadcast may be and still count towards it. */
export const answerWindowMs = 60 * 60 * 1000

/** Whether answers to a broadcast belong on a roll call: sent during it, or shortly before it. */
export function answersBelongTo(
  broadcast: { roll_call_id: number | null; created_at: number },
  rollCall: RollCall,
): boolean {
  if (broadcast.roll_call_id !== null) return broadcast.roll_call_id === rollCall.id
  return broadcast.created_at >= rollCall.started_at - answerWindowMs
}

/**
 * A person's own answer ("I'm safe" / "I need help") lands on the running roll call, marked by
 * "self", when the broadcast belongs to it (an old drill's link never marks anyone safe in a real
 * evacuation); returns that roll call's id.
 */
export async function recordSelfAnswer(
  db: Db,
  request: Actor & {
    answer: 'safe' | 'help'
    broadcast: { roll_call_id: number | null; created_at: number }
  },
): Promise<number | null> {
  const running = await findActiveRollCall(db)
  if (!running || !answersBelongTo(request.broadcast, running)) return null
  await markSelf(db, running.id, request, request.answer, {
    action: 'roll-call.self-reported',
    detail: { status: request.answer },
  })
  return running.id
}

/**
 * A visitor's answer to a broadcast, on the running roll call it belongs to (as `recordSelfAnswer`
 * for staff): marked as theirs and audited. Returns the roll call's id, or null when none.
 */
export async function recordVisitorSelfAnswer(
  db: Db,
  request: {
    visitorId: number
    at: number
    context: RequestContext
    answer: 'safe' | 'help'
    broadcast: { roll_call_id: number | null; created_at: number }
  },
): Promise<number | null> {
  const running = await findActiveRollCall(db)
  if (!running || !answersBelongTo(request.broadcast, running)) return null
  const marked = await markVisitorAnswer(db, {
    rollCallId: running.id,
    visitorId: request.visitorId,
    status: request.answer,
    at: request.at,
    putOnAt: request.at,
  })
  if (!marked) return null
  await recordAudit(db, {
    at: request.at,
    personId: null,
    action: 'roll-call.self-reported',
    context: request.context,
    detail: { rollCallId: running.id, visitorId: request.visitorId, status: request.answer },
  })
  return running.id
}

/**
 * A visitor's own answer on the running roll call (`rollCallId`): one not on it (signed out before
 * it started) is put on it first (at `putOnAt`), not on the list when it started, as `markSelf`
 * adds a member of staff, so that an "I need help" is never dropped. False when a later mark stands.
 */
async function markVisitorAnswer(
  trx: Db,
  request: { rollCallId: number; visitorId: number; status: 'safe' | 'help'; at: number; putOnAt: number },
): Promise<boolean> {
  const { putOnAt, ...answer } = request
  await putAnsweringVisitorOnRunningRollCall(trx, answer.visitorId, putOnAt)
  return markVisitorSelf(trx, answer)
}

/** A person's own mark on a roll call ("self"), audited with what they did. */
async function markSelf(
  db: Db,
  rollCallId: number,
  actor: Actor,
  status: 'safe' | 'help',
  audit: { action: string; detail: Record<string, unknown> },
): Promise<void> {
  await upsertMark(db, {
    rollCallId,
    personId: actor.personId,
    status,
    via: 'self',
    by: actor.personId,
    at: actor.at,
  })
  await recordAudit(db, {
    at: actor.at,
    personId: actor.personId,
    action: audit.action,
    context: actor.context,
    detail: { rollCallId, ...audit.detail },
  })
}

const nameOf = async (db: Db, id: number | null) => {
  if (id === null) return null
  const p = await findPersonById(db, id)
  return p ? `${p.first_name} ${p.last_name}` : null
}

/**
 * Whether a line counts as on the list: on the snapshot taken when the alarm rang, unless a
 * sign-out made before the alarm reached the server since (they were not inside when it rang).
 */
export const countsOnList = (line: Countable): boolean => line.onSnapshot && !line.leftBeforeAlarm

/** What counting a line needs: its mark, and whether it is on the list. */
type Countable = Pick<RollCallLine, 'status' | 'onSnapshot' | 'leftBeforeAlarm'>

/**
 * Counts over a roll call's lines. The list, and who on it is safe or unmarked, is the snapshot
 * taken when the alarm rang, less whoever left before it (their sign-out reached the server late).
 * Whoever asked for help or is marked missing counts as such, and as not accounted for, whether on
 * the list or not (someone who never signed in and taps "I need help" must be in the number a
 * marshal gives the fire brigade). Someone who signed out during the alarm is on the list like
 * anyone: a tap on a phone is no proof they reached the assembly point.
 */
export function countLines(lines: Countable[]): RollCallCounts {
  const listed = lines.filter(countsOnList)
  const count = (among: Countable[], s: RollCallStatus) => among.filter((l) => l.status === s).length
  const accounted = count(listed, 'safe')
  const offListToFind = lines.filter(
    (l) => !countsOnList(l) && (l.status === 'help' || l.status === 'missing'),
  )
  return {
    total: listed.length,
    accounted,
    unaccounted: listed.length - accounted + offListToFind.length,
    missing: count(lines, 'missing'),
    help: count(lines, 'help'),
    unmarked: count(listed, 'unaccounted'),
  }
}

/** A roll call with its lines sorted by name (same names told apart, phones attached) and its counts. */
export async function rollCallView(db: Db, rollCallId: number): Promise<RollCallView> {
  const rollCall = await findRollCall(db, rollCallId)
  if (!rollCall) throw new UserError(404, 'There is no such roll call.')
  const rows = (await listRollCallLines(db, rollCallId)).sort(byName)
  const phones = await listPhonesOf(
    db,
    rows.map((l) => l.personId),
  )
  const lines = await tellApart(
    db,
    rows.map((l) => ({ ...l, tellApart: null, phone: phones.get(l.personId) ?? null })),
  )
  const visitors = await visitorRollCallLines(db, rollCallId)
  return {
    rollCall,
    startedByName: await nameOf(db, rollCall.started_by),
    endedByName: await nameOf(db, rollCall.ended_by),
    lines,
    visitors,
    counts: withVisitors(countLines(lines), visitors),
  }
}

/**
 * Adds the visitors to a roll call's tally: they are on the fire list like everyone else (on the
 * list when copied at the start or added as they signed in; off it when put on it by their own
 * answer after the start), counted by the same rule as staff.
 */
function withVisitors(counts: RollCallCounts, visitors: VisitorRollCallLine[]): RollCallCounts {
  const v = countLines(visitors)
  return {
    total: counts.total + v.total,
    accounted: counts.accounted + v.accounted,
    unaccounted: counts.unaccounted + v.unaccounted,
    missing: counts.missing + v.missing,
    help: counts.help + v.help,
    unmarked: counts.unmarked + v.unmarked,
  }
}

/**
 * Why a line was unconfirmed when the roll call started, in the fire list's words
 * ("reminded 17:30, no answer"); null for people who were plainly in.
 */
export function lineReason(line: RollCallLine, rollCall: RollCall, timeZone: string): string | null {
  if (line.reason === null || line.reasonAt === null) return line.confirmed ? null : 'unconfirmed'
  return describeReason({ kind: line.reason, at: line.reasonAt }, line, rollCall.started_at, timeZone)
}

/**
 * What a sign-out that reached the roll call says on the line (a person's or a visitor's): "Left
 * before the alarm — signed out 23:55, reached the server late" or "Signed out at 10:05, during the
 * alarm"; null when none did. A time on another day than the alarm's carries its day.
 */
export function describeSignOut(line: SignOutOnLine, rollCall: RollCall, timeZone: string): string | null {
  if (line.signedOutAt === null) return null
  const when = timeAround(line.signedOutAt, rollCall.started_at, timeZone)
  return line.leftBeforeAlarm
    ? `Left before the alarm — signed out ${when}, reached the server late`
    : `Signed out at ${when}, during the alarm`
}

/** What a line says of a sign-out that reached its roll call (staff and visitors alike). */
export type SignOutOnLine = Pick<RollCallLine, 'signedOutAt' | 'leftBeforeAlarm'>

/** One row of the report: who, where they stood at the end, who marked them and when. */
export interface ReportRow {
  personId: number
  firstName: string
  lastName: string
  status: RollCallStatus
  onSnapshot: boolean
  confirmed: boolean
  reason: string | null
  /** When a sign-out reached the roll call, and whether it was made before the alarm. */
  signedOutAt: number | null
  leftBeforeAlarm: boolean
  markedBy: string | null
  markedAt: number | null
}

/** Who marked a line for the report and the CSV: "self" for a person's own answer, else the marshal. */
const markedBy = (l: { via?: RollCallViewLine['via']; markedByName: string | null }) =>
  l.via === 'self' ? 'self' : l.markedByName

function reportRows(lines: RollCallLine[], rollCall: RollCall, timeZone: string): ReportRow[] {
  return lines.map((l) => ({
    personId: l.personId,
    firstName: l.firstName,
    lastName: l.lastName,
    status: l.status,
    onSnapshot: l.onSnapshot,
    confirmed: l.confirmed,
    reason: lineReason(l, rollCall, timeZone),
    signedOutAt: l.signedOutAt,
    leftBeforeAlarm: l.leftBeforeAlarm,
    markedBy: markedBy(l),
    markedAt: l.markedAt,
  }))
}

/** Ends a roll call and keeps its report (every line, who marked it, when) in the audit trail. */
export async function endRollCall(
  db: Db,
  request: Actor & { rollCallId: number; timeZone: string },
): Promise<RollCall> {
  return unitOfWork(db, async (trx) => {
    await requireRunning(trx, request.rollCallId)
    const ended = await closeRollCall(trx, request.rollCallId, { at: request.at, by: request.personId })
    if (!ended) throw new UserError(409, 'This roll call has already ended.')
    const lines = (await listRollCallLines(trx, request.rollCallId)).sort(byName)
    const visitors = await visitorRollCallLines(trx, request.rollCallId)
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'roll-call.ended',
      context: request.context,
      detail: {
        rollCallId: ended.id,
        kind: ended.kind,
        startedAt: ended.started_at,
        counts: withVisitors(countLines(lines), visitors),
        report: reportRows(lines, ended, request.timeZone),
        visitors: visitors.map((v) => ({
          visitorId: v.visitorId,
          status: v.status,
          markedBy: markedBy(v),
          markedAt: v.markedAt,
          signedOutAt: v.signedOutAt,
          leftBeforeAlarm: v.leftBeforeAlarm,
          onSnapshot: v.onSnapshot,
        })),
      },
    })
    return ended
  })
}

const statusLabel: Record<RollCallStatus, string> = {
  safe: 'safe',
  missing: 'missing',
  help: 'needs help',
  unaccounted: 'unaccounted',
}

/** Human words for a status. */
export function describeStatus(status: RollCallStatus): string {
  return statusLabel[status]
}

const localIso = (ms: number | null, timeZone: string) =>
  ms === null ? '' : (DateTime.fromMillis(ms, { zone: timeZone }).toISO({ suppressMilliseconds: true }) ?? '')

/**
 * The roll call report as CSV (times in the site's time zone, ISO 8601 with offset). A sign-out
 * that reached the roll call is in "Signed out at"; "Left before the alarm" says it was made before
 * the start (not counted on the list), as on the page.
 */
export function rollCallCsv(view: RollCallView, timeZone: string): string {
  return stringify(
    reportRows(view.lines, view.rollCall, timeZone)
      .map((r, i) => [
        r.firstName,
        r.lastName,
        view.lines[i]!.tellApart ?? '',
        statusLabel[r.status],
        r.markedBy ?? '',
        localIso(r.markedAt, timeZone),
        localIso(view.lines[i]!.signedInAt, timeZone),
        localIso(view.lines[i]!.lastActivityAt, timeZone),
        r.confirmed ? 'yes' : 'no',
        r.reason ?? '',
        r.onSnapshot ? 'yes' : 'no',
        localIso(r.signedOutAt, timeZone),
        r.leftBeforeAlarm ? 'yes' : 'no',
      ])
      .concat(
        // Visitors, marked as such where staff rows say what tells same-named people apart.
        view.visitors.map((v) => [
          v.name,
          '',
          ['visitor', v.company, v.hostName ? `visiting ${v.hostName}` : '', v.phone ?? '']
            .filter(Boolean)
            .join(' · '),
          statusLabel[v.status],
          markedBy(v) ?? '',
          localIso(v.markedAt, timeZone),
          localIso(v.signedInAt, timeZone),
          '',
          v.confirmed ? 'yes' : 'no',
          describeVisitorReason(v, view.rollCall.started_at, timeZone) ?? '',
          v.onSnapshot ? 'yes' : 'no',
          localIso(v.signedOutAt, timeZone),
          v.leftBeforeAlarm ? 'yes' : 'no',
        ]),
      ),
    {
      header: true,
      columns: [
        'First name',
        'Last name',
        'Told apart by',
        'Status',
        'Marked by',
        'Marked at',
        'Signed in at',
        'Last activity',
        'Confirmed',
        'Why unconfirmed',
        'On list',
        'Signed out at',
        'Left before the alarm',
      ],
      // Names come from people: never let a spreadsheet read one as a formula (as every export).
      ...csvOptions,
    },
  )
}

/** The roll call running now, if any. */
export async function activeRollCall(db: Db): Promise<RollCall | undefined> {
  return findActiveRollCall(db)
}

/** The most recent roll calls, newest first. */
export async function recentRollCalls(db: Db, limit: number): Promise<RollCall[]> {
  return listRollCalls(db, limit)
}

/** The one-page drill report of an ended (or running) roll call. */
export interface DrillReport {
  view: RollCallView
  /**
   * When the last person ever not accounted for (on the list, or off it and sought) became
   * accounted for, if everyone is now; null while anyone is not.
   */
  allAccountedAt: number | null
  /** Who is on the list (its total, as counted), by group: staff in, staff unconfirmed, visitors. */
  onList: { in: number; unconfirmed: number; visitors: number }
  /** People on the list never marked safe. */
  neverAccounted: RollCallViewLine[]
  /** People on it at the start whose sign-out from before the alarm reached the server later. */
  leftBeforeAlarm: RollCallViewLine[]
  /** Visitors on it whose sign-out from before the alarm reached the server later (a kiosk's). */
  visitorsLeftBeforeAlarm: VisitorRollCallLine[]
  /** Visitors on the list never marked safe, and those off it still needing help or missing. */
  visitorsNeverAccounted: VisitorRollCallLine[]
  /** Who marked people, with how many each ("self" for people's own answers). */
  markers: { name: string; count: number }[]
  /** Everyone unconfirmed at the start, with the reason and how it was resolved. */
  unconfirmed: { line: RollCallViewLine; reason: string; resolution: string }[]
  /** Visitors unconfirmed at the start, likewise. */
  visitorsUnconfirmed: { line: VisitorRollCallLine; reason: string; resolution: string }[]
}

/**
 * Builds the drill report: how long until everyone was accounted for, by whom, and the doubtful.
 * Whoever left before the alarm (their sign-out reached the server late) is listed apart and, as in
 * the counts, is not waited for.
 */
export async function drillReport(db: Db, rollCallId: number, timeZone: string): Promise<DrillReport> {
  const view = await rollCallView(db, rollCallId)
  // A mark made before the end may reach the server up to the replay window after it.
  const until =
    view.rollCall.ended_at === null ? Number.MAX_SAFE_INTEGER : view.rollCall.ended_at + REPLAY_WINDOW_MS
  return drillReportOf(view, timeZone, await listMarksMade(db, view.rollCall, until))
}

/**
 * When a line last became accounted for, replaying the marks made on it in the order they were made
 * and ending with the one that stands: null when it is not accounted for now, or never was
 * unaccounted (someone off the list whom nobody sought). Accounted as the counts have it: on the
 * list, marked safe; off it, neither needing help nor missing.
 */
function lastAccountedAt(
  listed: boolean,
  line: { status: RollCallStatus; markedAt: number | null },
  made: Pick<MarkMade, 'status' | 'at'>[],
): number | null {
  const accounted = (status: RollCallStatus) =>
    listed ? status === 'safe' : status !== 'help' && status !== 'missing'
  const marks = [...made].sort((a, b) => a.at - b.at)
  if (line.markedAt !== null) marks.push({ status: line.status, at: line.markedAt })
  let now = accounted('unaccounted')
  let since: number | null = null
  for (const mark of marks) {
    if (!now && accounted(mark.status)) since = mark.at
    now = accounted(mark.status)
  }
  return now ? since : null
}

/**
 * The drill report of a roll call's view (see drillReport), with the marks made on it (from the
 * audit trail): "everyone accounted for" waits for the last person found of all who were sought, on
 * the list or off it (asked for help, marked missing), staff or visitors. Without the marks (audit
 * rows purged), each line counts by the mark that stands: off the list, only one still sought.
 */
export function drillReportOf(view: RollCallView, timeZone: string, made: MarkMade[]): DrillReport {
  const listed = view.lines.filter(countsOnList)
  const visitorsListed = view.visitors.filter(countsOnList)
  // Never accounted for: whoever on the list was not marked safe, and whoever off it (never signed
  // in, left before the alarm, or a visitor put on it by their own answer after the start) still
  // needs help or is missing at the end, as the counts have it.
  const neverFound = (l: Countable) =>
    countsOnList(l) ? l.status !== 'safe' : l.status === 'help' || l.status === 'missing'
  const neverAccounted = view.lines.filter(neverFound)
  const visitorsNeverAccounted = view.visitors.filter(neverFound)
  const madeOn = new Map<string, MarkMade[]>()
  for (const mark of made) {
    const key = 'person' in mark.subject ? `p${mark.subject.person}` : `v${mark.subject.visitor}`
    const marks = madeOn.get(key)
    if (marks) marks.push(mark)
    else madeOn.set(key, [mark])
  }
  const found = [
    ...view.lines.map((l) => lastAccountedAt(countsOnList(l), l, madeOn.get(`p${l.personId}`) ?? [])),
    ...view.visitors.map((l) => lastAccountedAt(countsOnList(l), l, madeOn.get(`v${l.visitorId}`) ?? [])),
  ]
  const allAccountedAt =
    neverAccounted.length + visitorsNeverAccounted.length === 0
      ? Math.max(view.rollCall.started_at, ...found.map((at) => at ?? 0))
      : null
  const markerOf = (l: Parameters<typeof markedBy>[0]) => markedBy(l) ?? 'a former marshal'
  const tally = new Map<string, number>()
  for (const l of [...view.lines, ...view.visitors]) {
    if (l.markedAt === null || l.status === 'unaccounted') continue
    tally.set(markerOf(l), (tally.get(markerOf(l)) ?? 0) + 1)
  }
  const resolution = (
    l: { status: RollCallStatus; markedAt: number | null } & Parameters<typeof markerOf>[0],
  ) =>
    l.status === 'unaccounted' || l.markedAt === null
      ? 'never accounted for'
      : `${describeStatus(l.status)}, ${l.via === 'self' ? 'said so themselves' : `marked by ${markerOf(l)}`} at ${formatTime(l.markedAt, timeZone)}`
  const resolvedBy = (l: Parameters<typeof resolution>[0] & SignOutOnLine) =>
    l.leftBeforeAlarm && l.status === 'unaccounted'
      ? (describeSignOut(l, view.rollCall, timeZone) ?? resolution(l))
      : resolution(l)
  return {
    view,
    allAccountedAt,
    onList: {
      in: listed.filter((l) => l.confirmed).length,
      unconfirmed: listed.filter((l) => !l.confirmed).length,
      visitors: visitorsListed.length,
    },
    neverAccounted,
    leftBeforeAlarm: view.lines.filter((l) => l.leftBeforeAlarm),
    visitorsLeftBeforeAlarm: view.visitors.filter((l) => l.leftBeforeAlarm),
    visitorsNeverAccounted,
    markers: [...tally].map(([name, count]) => ({ name, count })).sort((a, b) => b.count - a.count),
    unconfirmed: view.lines
      .filter((l) => l.onSnapshot && !l.confirmed)
      .map((line) => ({
        line,
        reason: lineReason(line, view.rollCall, timeZone) ?? 'unconfirmed',
        resolution: resolvedBy(line),
      })),
    visitorsUnconfirmed: view.visitors
      .filter((l) => l.onSnapshot && !l.confirmed)
      .map((line) => ({
        line,
        reason: describeVisitorReason(line, view.rollCall.started_at, timeZone) ?? 'unconfirmed',
        resolution: resolvedBy(line),
      })),
  }
}
