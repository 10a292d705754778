import { stringify } from 'csv-stringify/sync'
import { DateTime } from 'luxon'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { RollCall, RollCallKind, RollCallStatus } from '../db/database.js'
import { findPersonById } from '../identity/person.repository.js'
import { UserError } from '../lib/errors.js'
import { listRecentAnswers } from './broadcast.repository.js'
import { byName, peopleInside } from './presence.service.js'
import {
  endRollCall as closeRollCall,
  findActiveRollCall,
  findRollCall,
  insertRollCall,
  insertSnapshot,
  isOnSnapshot,
  listRollCallLines,
  type RollCallLine,
  upsertMark,
} from './roll-call.repository.js'

/** Who did something, when, from where. */
export interface Actor {
  personId: number
  at: number
  context: RequestContext
}

/** Accounted (marked safe) and unaccounted (everyone else on the list), with the details. */
export interface RollCallCounts {
  total: number
  accounted: number
  unaccounted: number
  missing: number
  help: number
  unmarked: number
}

/** A roll call as the marshals' page and the report show it. */
export interface RollCallView {
  rollCall: RollCall
  startedByName: string | null
  endedByName: string | null
  lines: RollCallLine[]
  counts: RollCallCounts
}

/**
 * Starts a roll call (a drill or the real thing) with a snapshot of everyone inside, including
 * visits left open on earlier days (marked unconfirmed). A roll call already running is returned
 * instead, so two marshals tapping "start" at once end up on the same list.
 */
export async function startRollCall(
  db: Db,
  request: Actor & { kind: RollCallKind; timeZone: string },
): Promise<{ rollCall: RollCall; started: boolean }> {
  return db.transaction().execute(async (trx) => {
    const running = await findActiveRollCall(trx)
    if (running) return { rollCall: running, started: false }
    const rollCall = await insertRollCall(trx, { kind: request.kind, at: request.at, by: request.personId })
    if (!rollCall) return { rollCall: (await findActiveRollCall(trx))!, started: false }
    const inside = await peopleInside(trx, request.at, request.timeZone)
    await insertSnapshot(trx, rollCall.id, inside)
    // Answers to a broadcast sent just before the roll call count: people may answer first.
    for (const answer of await listRecentAnswers(trx, request.at - answerWindowMs)) {
      await upsertMark(trx, {
        rollCallId: rollCall.id,
        personId: answer.personId,
        status: answer.answer,
        via: 'self',
        by: answer.personId,
        at: answer.answeredAt,
      })
    }
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'roll-call.started',
      context: request.context,
      detail: { rollCallId: rollCall.id, kind: rollCall.kind, inside: inside.length },
    })
    return { rollCall, started: true }
  })
}

async function requireRunning(db: Db, rollCallId: number): Promise<RollCall> {
  const rollCall = await findRollCall(db, rollCallId)
  if (!rollCall) throw new UserError(404, 'There is no such roll call.')
  if (rollCall.ended_at !== null)
    throw new UserError(409, 'This roll call has ended, so marks can no longer change.')
  return rollCall
}

/** A marshal marks someone on the list safe, missing, or back to unaccounted. */
export async function markPerson(
  db: Db,
  request: Actor & { rollCallId: number; subjectId: number; status: 'safe' | 'missing' | 'unaccounted' },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await requireRunning(trx, request.rollCallId)
    if (!(await isOnSnapshot(trx, request.rollCallId, request.subjectId))) {
      throw new UserError(404, 'That person is not on this roll call.')
    }
    await upsertMark(trx, {
      rollCallId: request.rollCallId,
      personId: request.subjectId,
      status: request.status,
      via: 'marshal',
      by: request.personId,
      at: request.at,
    })
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'roll-call.marked',
      context: request.context,
      detail: { rollCallId: request.rollCallId, subjectId: request.subjectId, status: request.status },
    })
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
  await upsertMark(db, {
    rollCallId: running.id,
    personId: request.personId,
    status: request.answer,
    via: 'self',
    by: request.personId,
    at: request.at,
  })
  await recordAudit(db, {
    at: request.at,
    personId: request.personId,
    action: 'roll-call.self-reported',
    context: request.context,
    detail: { rollCallId: running.id, status: request.answer },
  })
  return running.id
}

const nameOf = async (db: Db, id: number | null) => {
  if (id === null) return null
  const p = await findPersonById(db, id)
  return p ? `${p.first_name} ${p.last_name}` : null
}

/** Counts over a roll call's lines: only people on the snapshot count towards the totals. */
export function countLines(lines: RollCallLine[]): RollCallCounts {
  const listed = lines.filter((l) => l.onSnapshot)
  const count = (s: RollCallStatus) => listed.filter((l) => l.status === s).length
  const accounted = count('safe')
  return {
    total: listed.length,
    accounted,
    unaccounted: listed.length - accounted,
    missing: count('missing'),
    help: count('help'),
    unmarked: count('unaccounted'),
  }
}

/** A roll call with its lines sorted by name and its counts. */
export async function rollCallView(db: Db, rollCallId: number): Promise<RollCallView> {
  const rollCall = await findRollCall(db, rollCallId)
  if (!rollCall) throw new UserError(404, 'There is no such roll call.')
  const lines = (await listRollCallLines(db, rollCallId)).sort(byName)
  return {
    rollCall,
    startedByName: await nameOf(db, rollCall.started_by),
    endedByName: await nameOf(db, rollCall.ended_by),
    lines,
    counts: countLines(lines),
  }
}

/** One row of the report: who, where they stood at the end, who marked them and when. */
export interface ReportRow {
  personId: number
  firstName: string
  lastName: string
  status: RollCallStatus
  onSnapshot: boolean
  confirmed: boolean
  markedBy: string | null
  markedAt: number | null
}

function reportRows(lines: RollCallLine[]): ReportRow[] {
  return lines.map((l) => ({
    personId: l.personId,
    firstName: l.firstName,
    lastName: l.lastName,
    status: l.status,
    onSnapshot: l.onSnapshot,
    confirmed: l.confirmed,
    markedBy: l.via === 'self' ? 'self' : l.markedByName,
    markedAt: l.markedAt,
  }))
}

/** Ends a roll call and keeps its report (every line, who marked it, when) in the audit trail. */
export async function endRollCall(db: Db, request: Actor & { rollCallId: number }): Promise<RollCall> {
  return db.transaction().execute(async (trx) => {
    await requireRunning(trx, request.rollCallId)
    const ended = await closeRollCall(trx, request.rollCallId, { at: request.at, by: request.personId })
    if (!ended) throw new UserError(409, 'This roll call has already ended.')
    const lines = (await listRollCallLines(trx, request.rollCallId)).sort(byName)
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'roll-call.ended',
      context: request.context,
      detail: {
        rollCallId: ended.id,
        kind: ended.kind,
        startedAt: ended.started_at,
        counts: countLines(lines),
        report: reportRows(lines),
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

/** The roll call report as CSV (times in the site's time zone, ISO 8601 with offset). */
export function rollCallCsv(view: RollCallView, timeZone: string): string {
  return stringify(
    reportRows(view.lines).map((r, i) => [
      r.firstName,
      r.lastName,
      statusLabel[r.status],
      r.markedBy ?? '',
      localIso(r.markedAt, timeZone),
      localIso(view.lines[i]!.signedInAt, timeZone),
      r.confirmed ? 'yes' : 'no',
      r.onSnapshot ? 'yes' : 'no',
    ]),
    {
      header: true,
      columns: [
        'First name',
        'Last name',
        'Status',
        'Marked by',
        'Marked at',
        'Signed in at',
        'Confirmed',
        'On list',
      ],
      // Names come from people: never let a spreadsheet read one as a formula.
      cast: { string: (value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value) },
    },
  )
}
