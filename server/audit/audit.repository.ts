import { type Insertable, sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type { AuditEvent, AuditEventTable } from '../db/database.js'
import { preparedQuery } from '../db/prepared-query.js'
import { EVENT_FOR_AUDIT_ACTION } from '../outgoing-webhooks/events.js'
import { insertWebhookEvent } from '../outgoing-webhooks/webhook.repository.js'

/** Where a request came from, as recorded in the audit trail. */
export interface RequestContext {
  ip: string
  userAgent: string
}

// Every change writes one: built once (see preparedQuery).
const insertAuditQuery = preparedQuery((db, v: Required<Omit<Insertable<AuditEventTable>, 'id'>>) =>
  db.insertInto('audit_event').values({
    at: v.at,
    person_id: v.person_id,
    action: v.action,
    ip: v.ip,
    user_agent: v.user_agent,
    detail: v.detail,
  }),
)

/**
 * Writes one audit row. Detail must never hold codes or tokens. Actions that outgoing webhooks
 * announce (sign-in, roll call started, …) also record a webhook event in the same transaction.
 */
export async function recordAudit(
  db: Db,
  event: { at: number; personId: number | null; action: string; context: RequestContext; detail?: object },
): Promise<void> {
  await insertAuditQuery(db, {
    at: event.at,
    person_id: event.personId,
    action: event.action,
    ip: event.context.ip,
    user_agent: event.context.userAgent.slice(0, 512),
    detail: JSON.stringify(event.detail ?? {}),
  })
  const type = EVENT_FOR_AUDIT_ACTION[event.action]
  if (type) {
    await insertWebhookEvent(db, { type, personId: event.personId, data: event.detail ?? {}, at: event.at })
  }
}

/** A person's audit trail, newest first. */
export async function listAuditForPerson(db: Db, personId: number, limit = 50): Promise<AuditEvent[]> {
  return db
    .selectFrom('audit_event')
    .selectAll()
    .where('person_id', '=', personId)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute()
}

/**
 * The audit rows of one action written at or after `since`, oldest first. The action goes in as a
 * literal, as a partial index on one action spells it (audit_event_saved_sign_in_refused, _dismissed): a plan
 * made before the value is known (a statement prepared once) can use it too. Pass only the code's
 * own action names.
 */
export const auditOfActionSinceQuery = (db: Db, action: string, since: number) =>
  db
    .selectFrom('audit_event')
    .selectAll()
    .where('at', '>=', since)
    .where('action', '=', sql.lit(action))
    .orderBy('at')
    .orderBy('id')
