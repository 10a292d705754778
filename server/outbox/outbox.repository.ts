import type { Db } from '../db/connect.js'
import type { OutboxEvent } from '../db/database.js'
import { preparedQuery } from '../db/prepared-query.js'

/** A presence change as announced outside: IDs and a count only (names are read at delivery). */
export interface PresencePayload {
  personId: number
  visitId: number
  action: 'signed-in' | 'signed-out'
  at: number
  /** People in the building just after the change. */
  inside: number
}

/** A visitor signed in (kiosk, reception or invitation): their id only, read at delivery. */
export interface VisitorArrivalPayload {
  visitorId: number
  /** When they signed in. */
  at: number
}

/** A scheduled occupancy count. */
export interface DigestPayload {
  at: number
  inside: number
}

// Every sign-in and sign-out writes one: built once (see preparedQuery). Nothing reads the row
// back: `returning` doubled the cost of the insert.
const insertOutboxQuery = preparedQuery(
  (db, v: { topic: OutboxEvent['topic']; payload: string; at: number }) =>
    db
      .insertInto('outbox')
      .values({ topic: v.topic, payload: v.payload, created_at: v.at, relayed_at: null }),
)

/** Writes an outbox row; call it inside the transaction that makes the change. */
export async function insertOutbox(
  db: Db,
  event:
    | { topic: 'presence'; payload: PresencePayload }
    | { topic: 'digest'; payload: DigestPayload }
    | { topic: 'visitor-arrival'; payload: VisitorArrivalPayload },
  at: number,
): Promise<void> {
  await insertOutboxQuery(db, { topic: event.topic, payload: JSON.stringify(event.payload), at })
}

/** The oldest events not yet handed on, in order. */
export async function listUnrelayed(db: Db, limit: number): Promise<OutboxEvent[]> {
  return db
    .selectFrom('outbox')
    .selectAll()
    .where('relayed_at', 'is', null)
    .orderBy('id')
    .limit(limit)
    .execute()
}

/**
 * Marks every event of these topics not yet handed on as handed on, without reading them: for
 * topics no target wants. How many it marked.
 */
export async function markTopicsRelayed(db: Db, topics: OutboxEvent['topic'][], at: number): Promise<number> {
  if (topics.length === 0) return 0
  const result = await db
    .updateTable('outbox')
    .set({ relayed_at: at })
    .where('relayed_at', 'is', null)
    .where('topic', 'in', topics)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** Marks events handed on (to the queue, or delivered in-process), in one statement. */
export async function markRelayed(db: Db, ids: number[], at: number): Promise<void> {
  if (ids.length === 0) return
  await db.updateTable('outbox').set({ relayed_at: at }).where('id', 'in', ids).execute()
}

/** One outbox event, or undefined (e.g. purged). */
export async function findOutbox(db: Db, id: number): Promise<OutboxEvent | undefined> {
  return db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirst()
}

/** True once this event was posted to this target. */
export async function wasDelivered(db: Db, outboxId: number, target: string): Promise<boolean> {
  const row = await db
    .selectFrom('outbox_delivery')
    .select('outbox_id')
    .where('outbox_id', '=', outboxId)
    .where('target', '=', target)
    .executeTakeFirst()
  return row !== undefined
}

/** Records a post to a target (a duplicate record is ignored). */
export async function recordDelivery(db: Db, outboxId: number, target: string, at: number): Promise<void> {
  await db
    .insertInto('outbox_delivery')
    .values({ outbox_id: outboxId, target, delivered_at: at })
    .onConflict((oc) => oc.columns(['outbox_id', 'target']).doNothing())
    .execute()
}
