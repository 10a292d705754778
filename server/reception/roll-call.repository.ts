import { sql } from 'kysely'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { RollCall, RollCallKind, RollCallStatus, UnconfirmedReasonKind } from '../db/database.js'
import { preparedQuery } from '../db/prepared-query.js'
import type { FireListPerson } from './presence.service.js'

/** The running roll call, if any. */
export async function findActiveRollCall(db: Db): Promise<RollCall | undefined> {
  return db.selectFrom('roll_call').selectAll().where('ended_at', 'is', null).executeTakeFirst()
}

/** A roll call by id. */
export async function findRollCall(db: Db, id: number): Promise<RollCall | undefined> {
  return db.selectFrom('roll_call').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Roll calls, newest first. */
export async function listRollCalls(db: Db, limit: number): Promise<RollCall[]> {
  return db
    .selectFrom('roll_call')
    .selectAll()
    .orderBy('started_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
}

/** Starts a roll call; undefined if one is already running (the unique index refuses a second). */
export async function insertRollCall(
  db: Db,
  rollCall: { kind: RollCallKind; at: number; by: number },
): Promise<RollCall | undefined> {
  return db
    .insertInto('roll_call')
    .values({
      kind: rollCall.kind,
      started_at: rollCall.at,
      started_by: rollCall.by,
      ended_at: null,
      ended_by: null,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst()
}

/**
 * Copies the fire list's staff into the roll call's snapshot, with why each was unconfirmed, and
 * when someone signed out if they did so during the alarm before the list was read.
 */
export async function insertSnapshot(
  db: Db,
  rollCallId: number,
  people: (FireListPerson & { signedOutAt?: number })[],
): Promise<void> {
  // SQLite limits bound parameters per statement; 50 rows × 11 values stays well inside.
  for (let i = 0; i < people.length; i += 50) {
    await db
      .insertInto('roll_call_person')
      .values(
        people.slice(i, i + 50).map((p) => ({
          roll_call_id: rollCallId,
          person_id: p.personId,
          first_name: p.firstName,
          last_name: p.lastName,
          signed_in_at: p.signedInAt,
          confirmed: p.group === 'in' ? 1 : 0,
          reason: p.reason?.kind ?? null,
          reason_at: p.reason?.at ?? null,
          last_activity_at: p.lastActivityAt,
          still_here_at: p.stillHereAt,
          signed_out_at: p.signedOutAt ?? null,
        })),
      )
      .execute()
  }
}

// On every sign-in (a tap's hot path), so built once (see preparedQuery).
const addToRunningRollCallQuery = preparedQuery((db, v: { personId: number; signedInAt: number }) =>
  db
    .insertInto('roll_call_person')
    .columns([
      'roll_call_id',
      'person_id',
      'first_name',
      'last_name',
      'signed_in_at',
      'confirmed',
      'last_activity_at',
    ])
    .expression((eb) =>
      eb
        .selectFrom(['roll_call', 'person'])
        .select([
          'roll_call.id',
          'person.id',
          'person.first_name',
          'person.last_name',
          eb.cast<number>(eb.val(v.signedInAt), 'bigint').as('signed_in_at'),
          sql.lit(1).as('confirmed'),
          eb.cast<number>(eb.val(v.signedInAt), 'bigint').as('last_activity_at'),
        ])
        .where('roll_call.ended_at', 'is', null)
        .where('person.id', '=', v.personId),
    )
    .onConflict((oc) =>
      oc.columns(['roll_call_id', 'person_id']).doUpdateSet((eb) => ({
        signed_in_at: eb.ref('excluded.signed_in_at'),
        confirmed: eb.ref('excluded.confirmed'),
        reason: null,
        reason_at: null,
        last_activity_at: eb.ref('excluded.last_activity_at'),
        signed_out_at: null,
      })),
    ),
)

/**
 * Puts someone who signed in on the running roll call, if one runs: a tap saved offline before the
 * alarm, or anyone tapping in during it, is inside like the rest. Someone on it already (unconfirmed
 * since last night, or out and back in, even after a sign-out that reached it) is now plainly in,
 * since this sign-in; marks stay as made. One statement, so a sign-in with no roll call running
 * costs no extra read.
 */
export async function addToRunningRollCall(
  db: Db,
  entry: { personId: number; signedInAt: number },
): Promise<void> {
  await addToRunningRollCallQuery(db, entry)
}

// On every sign-out (a tap's hot path), so built once (see preparedQuery).
const signOutOnRunningRollCallQuery = preparedQuery(
  (db, v: { personId: number; signedInAt: number; signedOutAt: number }) =>
    db
      .updateTable('roll_call_person')
      .set({ signed_out_at: v.signedOutAt })
      .where('person_id', '=', v.personId)
      // The visit that put them on the list (or back on it), never an older one closed late.
      .where('signed_in_at', '=', v.signedInAt)
      .where('roll_call_id', 'in', (eb) =>
        eb.selectFrom('roll_call').select('id').where('ended_at', 'is', null),
      )
      .returning('roll_call_id'),
)

/**
 * Whether a sign-out that reached a roll call was made before it started: the person was not
 * inside when the alarm rang (the tap reached the server late), so the line no longer counts.
 */
export const leftBeforeStart = (signedOutAt: number | null, startedAt: number): boolean =>
  signedOutAt !== null && signedOutAt < startedAt

/**
 * Audits a sign-out that reached a running roll call's line (a person's visit or a visitor's):
 * `roll-call.left-before-alarm` when it was made before the start, else `roll-call.signed-out-during`.
 */
export async function auditSignOutOnRollCall(
  trx: Db,
  line: { rollCallId: number; startedAt: number },
  signOut: {
    signedOutAt: number
    at: number
    personId: number | null
    context: RequestContext
    of: { visitId: number } | { visitorId: number }
  },
): Promise<void> {
  await recordAudit(trx, {
    at: signOut.at,
    personId: signOut.personId,
    action: leftBeforeStart(signOut.signedOutAt, line.startedAt)
      ? 'roll-call.left-before-alarm'
      : 'roll-call.signed-out-during',
    context: signOut.context,
    detail: {
      rollCallId: line.rollCallId,
      ...signOut.of,
      signedOutAt: signOut.signedOutAt,
      startedAt: line.startedAt,
    },
  })
}

/**
 * Records a sign-out on the running roll call's line of the visit it closed, if a roll call runs
 * and that visit put the person on it; returns the roll call's id and start, else undefined. One
 * statement, so a sign-out with no roll call running costs no extra read.
 */
export async function signOutOnRunningRollCall(
  db: Db,
  visit: { personId: number; signedInAt: number; signedOutAt: number },
): Promise<{ rollCallId: number; startedAt: number } | undefined> {
  const [row] = await signOutOnRunningRollCallQuery(db, visit)
  if (!row) return undefined
  const rollCall = await findRollCall(db, row.roll_call_id)
  return rollCall && { rollCallId: rollCall.id, startedAt: rollCall.started_at }
}

/** Ends a running roll call; undefined if it had already ended. */
export async function endRollCall(
  db: Db,
  id: number,
  end: { at: number; by: number },
): Promise<RollCall | undefined> {
  return db
    .updateTable('roll_call')
    .set({ ended_at: end.at, ended_by: end.by })
    .where('id', '=', id)
    .where('ended_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/**
 * Records a mark: one row per (roll call, person), so concurrent marks never lose each other;
 * the mark made latest (by its own time, so a mark replayed from a phone that was offline does
 * not overwrite a newer one) wins and keeps who made it and when. False when a newer mark stood.
 */
export async function upsertMark(
  db: Db,
  mark: {
    rollCallId: number
    personId: number
    status: RollCallStatus
    via: 'marshal' | 'self'
    by: number | null
    at: number
  },
): Promise<boolean> {
  const result = await db
    .insertInto('roll_call_mark')
    .values({
      roll_call_id: mark.rollCallId,
      person_id: mark.personId,
      status: mark.status,
      via: mark.via,
      marked_by: mark.by,
      marked_at: mark.at,
    })
    .onConflict((oc) =>
      oc
        .columns(['roll_call_id', 'person_id'])
        .doUpdateSet({ status: mark.status, via: mark.via, marked_by: mark.by, marked_at: mark.at })
        .where('roll_call_mark.marked_at', '<=', mark.at),
    )
    .executeTakeFirst()
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0
}

/** A person's mark on a roll call, if any. */
export async function findMark(
  db: Db,
  rollCallId: number,
  personId: number,
): Promise<{ status: RollCallStatus; markedAt: number } | undefined> {
  const row = await db
    .selectFrom('roll_call_mark')
    .select(['status', 'marked_at'])
    .where('roll_call_id', '=', rollCallId)
    .where('person_id', '=', personId)
    .executeTakeFirst()
  return row && { status: row.status, markedAt: Number(row.marked_at) }
}

/** Claims an offline mark's key; false when that mark was already received (a replay). */
export async function claimMarkReceipt(
  db: Db,
  receipt: { key: string; rollCallId: number; at: number },
): Promise<boolean> {
  const row = await db
    .insertInto('roll_call_mark_receipt')
    .values({ key: receipt.key, roll_call_id: receipt.rollCallId, received_at: receipt.at })
    .onConflict((oc) => oc.column('key').doNothing())
    .returning('key')
    .executeTakeFirst()
  return row !== undefined
}

/** One line of a roll call: the snapshot (if they were on it) and the latest mark (if any). */
export interface RollCallLine {
  personId: number
  firstName: string
  lastName: string
  /** Null for someone who answered a broadcast but was not on the snapshot. */
  signedInAt: number | null
  onSnapshot: boolean
  confirmed: boolean
  reason: UnconfirmedReasonKind | null
  reasonAt: number | null
  lastActivityAt: number | null
  stillHereAt: number | null
  /** When a sign-out of the visit that put them on the list reached it (null: none did). */
  signedOutAt: number | null
  /** Signed out before the roll call started (the tap reached the server late): not inside. */
  leftBeforeAlarm: boolean
  status: RollCallStatus
  via: 'marshal' | 'self' | null
  markedAt: number | null
  markedById: number | null
  markedByName: string | null
}

/** Every line of a roll call: the snapshot plus anyone marked who was not on it. */
export async function listRollCallLines(db: Db, rollCallId: number): Promise<RollCallLine[]> {
  const snapshot = await db
    .selectFrom('roll_call_person as p')
    .innerJoin('roll_call as r', 'r.id', 'p.roll_call_id')
    .leftJoin('roll_call_mark as m', (j) =>
      j.onRef('m.roll_call_id', '=', 'p.roll_call_id').onRef('m.person_id', '=', 'p.person_id'),
    )
    .leftJoin('person as marker', 'marker.id', 'm.marked_by')
    .select([
      'r.started_at as startedAt',
      'p.person_id as personId',
      'p.first_name as firstName',
      'p.last_name as lastName',
      'p.signed_in_at as signedInAt',
      'p.confirmed as confirmed',
      'p.reason as reason',
      'p.reason_at as reasonAt',
      'p.last_activity_at as lastActivityAt',
      'p.still_here_at as stillHereAt',
      'p.signed_out_at as signedOutAt',
      'm.status as status',
      'm.via as via',
      'm.marked_at as markedAt',
      'm.marked_by as markedById',
      sql<string | null>`marker.first_name || ' ' || marker.last_name`.as('markedByName'),
    ])
    .where('p.roll_call_id', '=', rollCallId)
    .execute()
  const extra = await db
    .selectFrom('roll_call_mark as m')
    .innerJoin('person', 'person.id', 'm.person_id')
    .leftJoin('person as marker', 'marker.id', 'm.marked_by')
    .select([
      'm.person_id as personId',
      'person.first_name as firstName',
      'person.last_name as lastName',
      'm.status as status',
      'm.via as via',
      'm.marked_at as markedAt',
      'm.marked_by as markedById',
      sql<string | null>`marker.first_name || ' ' || marker.last_name`.as('markedByName'),
    ])
    .where('m.roll_call_id', '=', rollCallId)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('roll_call_person as p')
            .select('p.person_id')
            .whereRef('p.roll_call_id', '=', 'm.roll_call_id')
            .whereRef('p.person_id', '=', 'm.person_id'),
        ),
      ),
    )
    .execute()
  return [
    ...snapshot.map(({ startedAt, ...r }) => ({
      ...r,
      onSnapshot: true,
      confirmed: r.confirmed === 1,
      leftBeforeAlarm: leftBeforeStart(r.signedOutAt, startedAt),
      status: r.status ?? ('unaccounted' as const),
    })),
    ...extra.map((r) => ({
      ...r,
      signedInAt: null,
      onSnapshot: false,
      confirmed: true,
      reason: null,
      reasonAt: null,
      lastActivityAt: null,
      stillHereAt: null,
      signedOutAt: null,
      leftBeforeAlarm: false,
    })),
  ]
}

/** A line on a roll call's list counts on it unless its sign-out from before the start reached it late. */
export const standingOf = (line: {
  signedOutAt: number | string | null
  startedAt: number | string
}): 'on-list' | 'off-list' =>
  leftBeforeStart(line.signedOutAt === null ? null : Number(line.signedOutAt), Number(line.startedAt))
    ? 'off-list'
    : 'on-list'

/**
 * How a person stands on a roll call: `on-list` (on its snapshot, and not signed out before it
 * started), `off-list` (a line that does not count on the list: a sign-out from before the alarm
 * reached it late, or only a mark — an answer or a check-in from someone who never signed in), or
 * undefined when they have no line on it.
 */
export async function lineStanding(
  db: Db,
  rollCallId: number,
  personId: number,
): Promise<'on-list' | 'off-list' | undefined> {
  const listed = await db
    .selectFrom('roll_call_person as p')
    .innerJoin('roll_call as r', 'r.id', 'p.roll_call_id')
    .select(['p.signed_out_at as signedOutAt', 'r.started_at as startedAt'])
    .where('p.roll_call_id', '=', rollCallId)
    .where('p.person_id', '=', personId)
    .executeTakeFirst()
  if (listed) return standingOf(listed)
  const marked = await db
    .selectFrom('roll_call_mark')
    .select('person_id')
    .where('roll_call_id', '=', rollCallId)
    .where('person_id', '=', personId)
    .executeTakeFirst()
  return marked ? 'off-list' : undefined
}

/** A mark as it was made on a roll call (from the audit trail): whose, what, and when it was made. */
export interface MarkMade {
  subject: { person: number } | { visitor: number }
  status: RollCallStatus
  at: number
}

// Every mark on a roll call writes one of these, kept or overtaken (answers carried onto it too).
const markActions = [
  'roll-call.marked',
  'roll-call.visitor-marked',
  'roll-call.self-reported',
  'roll-call.muster-check-in',
] as const

const statuses: readonly RollCallStatus[] = ['safe', 'missing', 'help', 'unaccounted']

/**
 * Every mark made on a roll call, from the audit rows written from its start up to `until`, in the
 * order they were written: with the time each was made (a mark sent late from a phone says when).
 * A row whose detail was erased or cannot be read is left out.
 */
export async function listMarksMade(db: Db, rollCall: RollCall, until: number): Promise<MarkMade[]> {
  const rows = await db
    .selectFrom('audit_event')
    .select(['person_id', 'action', 'at', 'detail'])
    .where('at', '>=', rollCall.started_at)
    .where('at', '<=', until)
    .where('action', 'in', markActions)
    .orderBy('id')
    .execute()
  const marks: MarkMade[] = []
  for (const row of rows) {
    let detail: Record<string, unknown>
    try {
      detail = JSON.parse(row.detail)
    } catch {
      continue
    }
    if (detail.rollCallId !== rollCall.id) continue
    const status = row.action === 'roll-call.muster-check-in' ? 'safe' : detail.status
    const visitor = detail.visitorId
    const person = row.action === 'roll-call.marked' ? detail.subjectId : row.person_id
    const subject =
      typeof visitor === 'number' ? { visitor } : typeof person === 'number' ? { person } : undefined
    if (!subject || !statuses.includes(status as RollCallStatus)) continue
    const at = typeof detail.markedAt === 'number' ? detail.markedAt : Number(row.at)
    marks.push({ subject, status: status as RollCallStatus, at })
  }
  return marks
}
