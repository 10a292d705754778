import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type { RollCallStatus } from '../db/database.js'
import { leftBeforeStart, standingOf } from '../reception/roll-call.repository.js'

/** A visitor on a roll call: copied when it started, with the latest mark. */
export interface VisitorRollCallLine {
  visitorId: number
  name: string
  company: string
  hostName: string
  phone: string | null
  signedInAt: number
  status: RollCallStatus
  markedAt: number | null
  markedByName: string | null
  /** False when the visitor was unconfirmed on the fire list at the start. */
  confirmed: boolean
  /** When the auto-close had closed their visit (nobody saw them leave), or null. */
  autoClosedAt: number | null
  /** 'self' when the visitor answered a broadcast themselves. */
  via: 'self' | null
  /** When their sign-out reached the roll call while it ran (null: none did). */
  signedOutAt: number | null
  /** Signed out before the roll call started (a kiosk's sign-out sent late): not inside. */
  leftBeforeAlarm: boolean
  /**
   * False when they were put on it after its start read the list (they answered the evacuation
   * message while off it): "Not on the list when it started", as staff with only a mark.
   */
  onSnapshot: boolean
}

/**
 * Copies the visitors inside into a roll call's snapshot, with when a visitor signed out if they did
 * so during the alarm before the list was read.
 */
export async function insertVisitorSnapshot(
  db: Db,
  rollCallId: number,
  visitors: {
    visitorId: number
    name: string
    company: string
    hostName: string | null
    phone: string | null
    signedInAt: number
    confirmed: boolean
    autoClosedAt: number | null
    signedOutAt?: number
  }[],
): Promise<void> {
  for (let i = 0; i < visitors.length; i += 100) {
    await db
      .insertInto('roll_call_visitor')
      .values(
        visitors.slice(i, i + 100).map((v) => ({
          roll_call_id: rollCallId,
          visitor_id: v.visitorId,
          name: v.name,
          company: v.company,
          host_name: v.hostName ?? '',
          phone: v.phone,
          signed_in_at: v.signedInAt,
          marked_by: null,
          marked_at: null,
          reason: v.confirmed
            ? null
            : v.autoClosedAt !== null
              ? ('auto-closed' as const)
              : ('earlier-day' as const),
          reason_at: v.confirmed ? null : v.autoClosedAt,
          signed_out_at: v.signedOutAt ?? null,
        })),
      )
      .execute()
  }
}

/**
 * Puts a visitor who signed in on the running roll call, if one runs and they are not on it yet: a
 * kiosk's sign-in queued before the alarm, or anyone arriving during it, is inside like the rest.
 * With `addedAfterStartAt`, one who was not on it when it started (they answered the evacuation
 * message while off it) is put there as such.
 */
export async function addVisitorToRunningRollCall(
  db: Db,
  visitor: Pick<
    VisitorRollCallLine,
    'visitorId' | 'name' | 'company' | 'hostName' | 'phone' | 'signedInAt'
  > & {
    addedAfterStartAt?: number
  },
): Promise<void> {
  await db
    .insertInto('roll_call_visitor')
    .columns([
      'roll_call_id',
      'visitor_id',
      'name',
      'company',
      'host_name',
      'phone',
      'signed_in_at',
      'added_after_start_at',
    ])
    .expression((eb) =>
      eb
        .selectFrom('roll_call')
        .select([
          'roll_call.id',
          eb.cast<number>(eb.val(visitor.visitorId), 'integer').as('visitor_id'),
          eb.cast<string>(eb.val(visitor.name), 'text').as('name'),
          eb.cast<string>(eb.val(visitor.company), 'text').as('company'),
          eb.cast<string>(eb.val(visitor.hostName), 'text').as('host_name'),
          eb.cast<string | null>(eb.val(visitor.phone), 'text').as('phone'),
          eb.cast<number>(eb.val(visitor.signedInAt), 'bigint').as('signed_in_at'),
          eb
            .cast<number | null>(eb.val(visitor.addedAfterStartAt ?? null), 'bigint')
            .as('added_after_start_at'),
        ])
        .where('roll_call.ended_at', 'is', null),
    )
    .onConflict((oc) => oc.columns(['roll_call_id', 'visitor_id']).doNothing())
    .execute()
}

/**
 * Records a visitor's sign-out on the running roll call's line of that visit, if a roll call runs
 * and they are on it; returns the roll call's id and start, else undefined.
 */
export async function signOutVisitorOnRunningRollCall(
  db: Db,
  visit: { visitorId: number; signedOutAt: number },
): Promise<{ rollCallId: number; startedAt: number } | undefined> {
  const row = await db
    .updateTable('roll_call_visitor')
    .set({ signed_out_at: visit.signedOutAt })
    .where('visitor_id', '=', visit.visitorId)
    .where('roll_call_id', 'in', (eb) =>
      eb.selectFrom('roll_call').select('id').where('ended_at', 'is', null),
    )
    .returning('roll_call_id')
    .executeTakeFirst()
  if (!row) return undefined
  const rollCall = await db
    .selectFrom('roll_call')
    .select('started_at')
    .where('id', '=', row.roll_call_id)
    .executeTakeFirstOrThrow()
  return { rollCallId: row.roll_call_id, startedAt: Number(rollCall.started_at) }
}

/**
 * How a visitor stands on a roll call: `on-list`, `off-list` (their sign-out from before the alarm
 * reached it late: not inside when it rang; or put on it after the start by their own answer, as a
 * member of staff with only a mark), or undefined when they are not on it.
 */
export async function visitorLineStanding(
  db: Db,
  rollCallId: number,
  visitorId: number,
): Promise<'on-list' | 'off-list' | undefined> {
  const row = await db
    .selectFrom('roll_call_visitor as v')
    .innerJoin('roll_call as r', 'r.id', 'v.roll_call_id')
    .select([
      'v.signed_out_at as signedOutAt',
      'r.started_at as startedAt',
      'v.added_after_start_at as addedAfterStartAt',
    ])
    .where('v.roll_call_id', '=', rollCallId)
    .where('v.visitor_id', '=', visitorId)
    .executeTakeFirst()
  return row && (row.addedAfterStartAt !== null ? 'off-list' : standingOf(row))
}

/** A roll call's visitors with their marks, by name order left to the caller. */
export async function listVisitorRollCallLines(db: Db, rollCallId: number): Promise<VisitorRollCallLine[]> {
  const rows = await db
    .selectFrom('roll_call_visitor as v')
    .innerJoin('roll_call as r', 'r.id', 'v.roll_call_id')
    .leftJoin('person as marker', 'marker.id', 'v.marked_by')
    .select([
      'r.started_at as startedAt',
      'v.signed_out_at as signedOutAt',
      'v.visitor_id as visitorId',
      'v.name as name',
      'v.company as company',
      'v.host_name as hostName',
      'v.phone as phone',
      'v.signed_in_at as signedInAt',
      'v.status as status',
      'v.marked_at as markedAt',
      sql<string | null>`marker.first_name || ' ' || marker.last_name`.as('markedByName'),
      'v.reason as reason',
      'v.reason_at as reasonAt',
      'v.via as via',
      'v.added_after_start_at as addedAfterStartAt',
    ])
    .where('v.roll_call_id', '=', rollCallId)
    .execute()
  return rows.map(({ reason, reasonAt, startedAt, signedOutAt, addedAfterStartAt, ...r }) => ({
    ...r,
    signedInAt: Number(r.signedInAt),
    markedAt: r.markedAt === null ? null : Number(r.markedAt),
    signedOutAt: signedOutAt === null ? null : Number(signedOutAt),
    leftBeforeAlarm: leftBeforeStart(signedOutAt === null ? null : Number(signedOutAt), Number(startedAt)),
    confirmed: reason === null,
    autoClosedAt: reason === 'auto-closed' && reasonAt !== null ? Number(reasonAt) : null,
    onSnapshot: addedAfterStartAt === null,
  }))
}

/**
 * Sets a visitor's mark on a roll call unless a mark made later stands (a mark replayed from a
 * phone that was offline never overwrites a newer one): 'absent' when they are not on it.
 */
export async function setVisitorMark(
  db: Db,
  mark: {
    rollCallId: number
    visitorId: number
    status: RollCallStatus
    /** The marshal, or null when the visitor answered themselves (`via` 'self'). */
    by: number | null
    at: number
    via?: 'self'
  },
): Promise<'marked' | 'overtaken' | 'absent'> {
  const result = await db
    .updateTable('roll_call_visitor')
    .set({ status: mark.status, marked_by: mark.by, marked_at: mark.at, via: mark.via ?? null })
    .where('roll_call_id', '=', mark.rollCallId)
    .where('visitor_id', '=', mark.visitorId)
    .where((eb) => eb.or([eb('marked_at', 'is', null), eb('marked_at', '<=', mark.at)]))
    .executeTakeFirst()
  if (Number(result.numUpdatedRows) > 0) return 'marked'
  const listed = await db
    .selectFrom('roll_call_visitor')
    .select('visitor_id')
    .where('roll_call_id', '=', mark.rollCallId)
    .where('visitor_id', '=', mark.visitorId)
    .executeTakeFirst()
  return listed ? 'overtaken' : 'absent'
}
