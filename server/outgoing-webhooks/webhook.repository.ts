import type { Selectable } from 'kysely'
import type { Db } from '../db/connect.js'
import type { WebhookDeliveryTable, WebhookEndpointTable } from '../db/database.js'
import { preparedQuery } from '../db/prepared-query.js'

/** An endpoint row. */
export type WebhookEndpoint = Selectable<WebhookEndpointTable>
/** A delivery row. */
export type WebhookDelivery = Selectable<WebhookDeliveryTable>

// Every sign-in and sign-out records one: built once (see preparedQuery). Nothing reads it back.
const insertWebhookEventQuery = preparedQuery(
  (db, v: { type: string; personId: number | null; data: string; at: number }) =>
    db.insertInto('webhook_event').values({
      type: v.type,
      person_id: v.personId,
      data: v.data,
      occurred_at: v.at,
      fanned_out_at: null,
    }),
)

/** Records an event to announce; call it inside the transaction that makes the change. */
export async function insertWebhookEvent(
  db: Db,
  event: { type: string; personId: number | null; data: object; at: number },
): Promise<void> {
  await insertWebhookEventQuery(db, { ...event, data: JSON.stringify(event.data) })
}

/** Endpoints not removed, newest first. */
export async function listEndpoints(db: Db): Promise<WebhookEndpoint[]> {
  return db
    .selectFrom('webhook_endpoint')
    .selectAll()
    .where('removed_at', 'is', null)
    .orderBy('id', 'desc')
    .execute()
}

/** One endpoint (not removed), or undefined. */
export async function findEndpoint(db: Db, id: number): Promise<WebhookEndpoint | undefined> {
  return db
    .selectFrom('webhook_endpoint')
    .selectAll()
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .executeTakeFirst()
}

/** Adds an endpoint; returns its id. */
export async function insertEndpoint(
  db: Db,
  row: {
    url: string
    description: string
    events: string
    secretEncrypted: string
    createdBy: number | null
    at: number
  },
): Promise<number> {
  const inserted = await db
    .insertInto('webhook_endpoint')
    .values({
      url: row.url,
      description: row.description,
      events: row.events,
      secret_encrypted: row.secretEncrypted,
      created_by: row.createdBy,
      created_at: row.at,
      disabled_reason: null,
      removed_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return inserted.id
}

/** Turns an endpoint on (clearing the reason) or off (with a reason). */
export async function setEndpointEnabled(
  db: Db,
  id: number,
  enabled: boolean,
  reason: string | null,
): Promise<void> {
  await db
    .updateTable('webhook_endpoint')
    .set({ enabled: enabled ? 1 : 0, disabled_reason: enabled ? null : reason })
    .where('id', '=', id)
    .execute()
}

/** Removes an endpoint (kept for the audit trail's references); its pending deliveries stop. */
export async function markEndpointRemoved(db: Db, id: number, at: number): Promise<void> {
  await db.updateTable('webhook_endpoint').set({ removed_at: at, enabled: 0 }).where('id', '=', id).execute()
}

/** The newest event's id (0 when there is none). */
export async function lastEventId(db: Db): Promise<number> {
  const row = await db
    .selectFrom('webhook_event')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirst()
  return Number(row?.id ?? 0)
}

/**
 * Marks every event up to `upTo` fanned out without reading it, for when no endpoint is enabled:
 * nobody is owed a delivery. How many it marked.
 */
export async function markFannedOutUpTo(db: Db, upTo: number, at: number): Promise<number> {
  const result = await db
    .updateTable('webhook_event')
    .set({ fanned_out_at: at })
    .where('fanned_out_at', 'is', null)
    .where('id', '<=', upTo)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** Events not yet turned into deliveries, up to id `upTo`, oldest first. */
export async function listEventsToFanOut(db: Db, limit: number, upTo: number) {
  return db
    .selectFrom('webhook_event')
    .selectAll()
    .where('fanned_out_at', 'is', null)
    .where('id', '<=', upTo)
    .orderBy('id')
    .limit(limit)
    .execute()
}

/**
 * Creates the deliveries of a page of events (a duplicate is ignored) and marks them all fanned
 * out in one statement. The caller runs it as one unit of work: one commit per page, not one per
 * event (each tap writes an event, and a commit per event cost a burst of taps a fifth of its SQL).
 */
export async function fanOutEvents(
  db: Db,
  events: { eventId: number; deliveries: { endpointId: number; orderKey: string }[] }[],
  at: number,
): Promise<void> {
  const deliveries = events.flatMap(({ eventId, deliveries }) =>
    deliveries.map((d) => ({
      endpoint_id: d.endpointId,
      event_id: eventId,
      order_key: d.orderKey,
      next_attempt_at: at,
      created_at: at,
      lease_until: null,
      last_status: null,
      last_error: null,
      last_attempt_at: null,
    })),
  )
  // In chunks: SQLite allows 32,766 bound values per statement, 9 a delivery.
  for (let i = 0; i < deliveries.length; i += 1000) {
    await db
      .insertInto('webhook_delivery')
      .values(deliveries.slice(i, i + 1000))
      .onConflict((oc) => oc.columns(['endpoint_id', 'event_id']).doNothing())
      .execute()
  }
  if (events.length === 0) return
  await db
    .updateTable('webhook_event')
    .set({ fanned_out_at: at })
    .where(
      'id',
      'in',
      events.map((e) => e.eventId),
    )
    .execute()
}

/**
 * Pending deliveries that are due, to enabled endpoints, and have no earlier pending delivery for
 * the same endpoint and order key (each person's events arrive in order).
 */
export async function listDueDeliveries(db: Db, now: number, limit: number): Promise<WebhookDelivery[]> {
  return db
    .selectFrom('webhook_delivery as d')
    .innerJoin('webhook_endpoint as e', 'e.id', 'd.endpoint_id')
    .selectAll('d')
    .where('d.state', '=', 'pending')
    .where('d.next_attempt_at', '<=', now)
    .where('e.enabled', '=', 1)
    .where('e.removed_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('webhook_delivery as earlier')
            .select('earlier.id')
            .whereRef('earlier.endpoint_id', '=', 'd.endpoint_id')
            .whereRef('earlier.order_key', '=', 'd.order_key')
            .whereRef('earlier.event_id', '<', 'd.event_id')
            .where('earlier.state', '=', 'pending'),
        ),
      ),
    )
    .orderBy('d.event_id')
    .limit(limit)
    .execute()
}

/** Claims a delivery for one sender until `until`; false if another process holds it. */
export async function claimDelivery(db: Db, id: number, now: number, until: number): Promise<boolean> {
  const result = await db
    .updateTable('webhook_delivery')
    .set({ lease_until: until })
    .where('id', '=', id)
    .where('state', '=', 'pending')
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

/** Records one attempt's outcome. */
export async function recordAttempt(
  db: Db,
  id: number,
  outcome: {
    state: 'pending' | 'delivered' | 'failed'
    attempts: number
    nextAttemptAt: number
    status: number | null
    error: string | null
    at: number
  },
): Promise<void> {
  await db
    .updateTable('webhook_delivery')
    .set({
      state: outcome.state,
      attempts: outcome.attempts,
      next_attempt_at: outcome.nextAttemptAt,
      last_status: outcome.status,
      last_error: outcome.error,
      last_attempt_at: outcome.at,
      lease_until: null,
    })
    .where('id', '=', id)
    .execute()
}

/** The event of a delivery. */
export async function findWebhookEvent(db: Db, id: number) {
  return db.selectFrom('webhook_event').selectAll().where('id', '=', id).executeTakeFirst()
}

/** The latest deliveries of an endpoint with their event type, newest first (the delivery log). */
export async function listDeliveriesOf(db: Db, endpointId: number, limit = 50) {
  return db
    .selectFrom('webhook_delivery as d')
    .innerJoin('webhook_event as v', 'v.id', 'd.event_id')
    .select([
      'd.id',
      'd.state',
      'd.attempts',
      'd.next_attempt_at',
      'd.last_status',
      'd.last_error',
      'd.last_attempt_at',
      'd.created_at',
      'v.type',
      'v.occurred_at',
    ])
    .where('d.endpoint_id', '=', endpointId)
    .orderBy('d.id', 'desc')
    .limit(limit)
    .execute()
}

/** Active admins' contacts, to tell them an endpoint was disabled. */
export async function adminContacts(db: Db) {
  return db
    .selectFrom('person')
    .innerJoin('contact', 'contact.person_id', 'person.id')
    .select(['person.id as personId', 'person.first_name', 'contact.kind', 'contact.value'])
    .where('person.role', '=', 'admin')
    .where('person.deactivated_at', 'is', null)
    .orderBy('person.id')
    .orderBy('contact.kind')
    .execute()
}

/** Forgets delivered or failed deliveries and fanned-out events older than `before`. */
export async function purgeWebhookHistory(db: Db, before: number): Promise<void> {
  await db
    .deleteFrom('webhook_delivery')
    .where('state', '!=', 'pending')
    .where('created_at', '<', before)
    .execute()
  await db
    .deleteFrom('webhook_event')
    .where('fanned_out_at', 'is not', null)
    .where('occurred_at', '<', before)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('webhook_delivery')
            .select('id')
            .whereRef('webhook_delivery.event_id', '=', 'webhook_event.id'),
        ),
      ),
    )
    .execute()
}
