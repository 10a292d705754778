import type { Db } from '../db/connect.js'
import type { ContactKind, Message, MessageStatus } from '../db/database.js'
import { statusesBefore } from './message-status.js'

/** Starts a message log row before the provider is asked, so a crash mid-send still leaves a trace. */
export async function insertMessage(
  db: Db,
  message: {
    channel: string
    contactKind: ContactKind
    contactValue: string
    personId: number | null
    purpose: string
    at: number
  },
): Promise<number> {
  const row = await db
    .insertInto('message')
    .values({
      channel: message.channel,
      contact_kind: message.contactKind,
      contact_value: message.contactValue,
      person_id: message.personId,
      purpose: message.purpose,
      status: 'pending',
      attempts: 0,
      created_at: message.at,
      updated_at: message.at,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

/** Records the outcome of the send itself: the provider's id and first status, or the failure. */
export async function finishMessage(
  db: Db,
  id: number,
  outcome: { status: MessageStatus; providerId?: string; error?: string; attempts: number; at: number },
): Promise<void> {
  await db
    .updateTable('message')
    .set({
      provider_id: outcome.providerId ?? null,
      error: outcome.error ?? null,
      attempts: outcome.attempts,
      updated_at: outcome.at,
    })
    .where('id', '=', id)
    .execute()
  // A status callback may already have moved the row further on; never move it back.
  await db
    .updateTable('message')
    .set({ status: outcome.status })
    .where('id', '=', id)
    .where('status', 'in', statusesBefore(outcome.status))
    .execute()
}

/** Moves a message to a later status reported by the provider; earlier or equal ones change nothing. */
export async function advanceMessageStatus(
  db: Db,
  match: { id: number; providerId: string },
  update: { status: MessageStatus; error: string | null; at: number },
): Promise<boolean> {
  const result = await db
    .updateTable('message')
    .set({ status: update.status, updated_at: update.at, provider_id: match.providerId })
    .$if(update.error !== null, (q) => q.set({ error: update.error }))
    .where('id', '=', match.id)
    .where((eb) => eb.or([eb('provider_id', 'is', null), eb('provider_id', '=', match.providerId)]))
    .where('status', 'in', statusesBefore(update.status))
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

/** The message with this provider id, if any. */
export async function findMessageByProviderId(db: Db, providerId: string): Promise<Message | undefined> {
  return db.selectFrom('message').selectAll().where('provider_id', '=', providerId).executeTakeFirst()
}

/** The message log, newest first, optionally of one status. */
export async function listMessages(
  db: Db,
  filter: { status?: MessageStatus; limit: number; beforeId?: number },
): Promise<Message[]> {
  return db
    .selectFrom('message')
    .selectAll()
    .$if(filter.status !== undefined, (q) => q.where('status', '=', filter.status!))
    .$if(filter.beforeId !== undefined, (q) => q.where('id', '<', filter.beforeId!))
    .orderBy('id', 'desc')
    .limit(filter.limit)
    .execute()
}
