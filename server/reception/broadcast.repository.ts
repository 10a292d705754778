import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type {
  Broadcast,
  BroadcastAudience,
  BroadcastRecipient,
  BroadcastRecipientStatus,
  BroadcastTemplate,
  ContactKind,
  MessageStatus,
} from '../db/database.js'

/** Saves a broadcast. */
export async function insertBroadcast(
  db: Db,
  broadcast: {
    template: BroadcastTemplate
    audience: BroadcastAudience
    message: string
    askSafety: boolean
    rollCallId: number | null
    by: number
    at: number
  },
): Promise<Broadcast> {
  return db
    .insertInto('broadcast')
    .values({
      template: broadcast.template,
      audience: broadcast.audience,
      message: broadcast.message,
      ask_safety: broadcast.askSafety ? 1 : 0,
      roll_call_id: broadcast.rollCallId,
      created_by: broadcast.by,
      created_at: broadcast.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** Adds the people (staff, then visitors) a broadcast goes to, each pending. */
export async function insertRecipients(
  db: Db,
  broadcastId: number,
  who: { personIds: number[]; visitorIds: number[] },
): Promise<void> {
  const rows = [
    ...who.personIds.map((id) => ({ person_id: id, visitor_id: null })),
    ...who.visitorIds.map((id) => ({ person_id: null, visitor_id: id })),
  ]
  for (let i = 0; i < rows.length; i += 200) {
    await db
      .insertInto('broadcast_recipient')
      .values(
        rows.slice(i, i + 200).map((r) => ({ ...r, broadcast_id: broadcastId, status: 'pending' as const })),
      )
      .execute()
  }
}

/** A broadcast by id. */
export async function findBroadcast(db: Db, id: number): Promise<Broadcast | undefined> {
  return db.selectFrom('broadcast').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Recent broadcasts with their delivery counts, newest first. */
export async function listBroadcasts(
  db: Db,
  limit: number,
): Promise<(Broadcast & { recipients: number; sent: number; failed: number; answered: number })[]> {
  const rows = await db
    .selectFrom('broadcast as b')
    .leftJoin('broadcast_recipient as r', 'r.broadcast_id', 'b.id')
    .selectAll('b')
    .select([
      sql<number>`count(r.id)`.as('recipients'),
      sql<number>`count(case when r.status = 'sent' then 1 end)`.as('sent'),
      sql<number>`count(case when r.status = 'failed' then 1 end)`.as('failed'),
      sql<number>`count(r.answer)`.as('answered'),
    ])
    .groupBy('b.id')
    .orderBy('b.created_at', 'desc')
    .orderBy('b.id', 'desc')
    .limit(limit)
    .execute()
  return rows.map((r) => ({
    ...r,
    recipients: Number(r.recipients),
    sent: Number(r.sent),
    failed: Number(r.failed),
    answered: Number(r.answered),
  }))
}

/**
 * A recipient row with the person's name (a visitor's whole name is `firstName`, with their phone
 * for a call back) and, once the provider reports it, the delivery status from the message log
 * (delivered / undelivered / failed).
 */
export type RecipientLine = BroadcastRecipient & {
  firstName: string
  lastName: string
  visitorPhone: string | null
  deliveryStatus: MessageStatus | null
}

/** Everyone a broadcast went to, staff and visitors, sorted by name. */
export async function listRecipients(db: Db, broadcastId: number): Promise<RecipientLine[]> {
  const rows = await db
    .selectFrom('broadcast_recipient as r')
    .leftJoin('person', 'person.id', 'r.person_id')
    .leftJoin('visitor', 'visitor.id', 'r.visitor_id')
    .leftJoin('message', 'message.id', 'r.message_id')
    .selectAll('r')
    .select([
      'person.first_name as personFirstName',
      'person.last_name as personLastName',
      'visitor.name as visitorName',
      'visitor.phone as visitorPhone',
      'message.status as deliveryStatus',
    ])
    .where('r.broadcast_id', '=', broadcastId)
    .orderBy((eb) => eb.fn('lower', [eb.fn.coalesce('person.first_name', 'visitor.name')]))
    .orderBy((eb) => eb.fn('lower', [eb.fn.coalesce('person.last_name', sql.lit(''))]))
    .orderBy('r.id')
    .execute()
  return rows.map(({ personFirstName, personLastName, visitorName, ...r }) => ({
    ...r,
    firstName: personFirstName ?? visitorName ?? '',
    lastName: personLastName ?? '',
  }))
}

/** Ids of a broadcast's recipients still waiting to be sent. */
export async function listPendingRecipientIds(db: Db, broadcastId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('broadcast_recipient')
    .select('id')
    .where('broadcast_id', '=', broadcastId)
    .where('status', '=', 'pending')
    .orderBy('id')
    .execute()
  return rows.map((r) => r.id)
}

/** Claims a pending recipient for sending; undefined if someone else already did. */
export async function claimRecipient(db: Db, id: number): Promise<BroadcastRecipient | undefined> {
  return db
    .updateTable('broadcast_recipient')
    .set({ status: 'sending' })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .returningAll()
    .executeTakeFirst()
}

/** Records how a send went. */
export async function finishRecipient(
  db: Db,
  id: number,
  outcome: {
    status: Extract<BroadcastRecipientStatus, 'sent' | 'failed'>
    contact: { kind: ContactKind; value: string } | null
    channel: string | null
    providerId: string | null
    messageId: number | null
    error: string | null
    at: number
  },
): Promise<void> {
  await db
    .updateTable('broadcast_recipient')
    .set({
      status: outcome.status,
      contact_kind: outcome.contact?.kind ?? null,
      contact_value: outcome.contact?.value ?? null,
      channel: outcome.channel,
      provider_id: outcome.providerId,
      message_id: outcome.messageId,
      error: outcome.error,
      sent_at: outcome.status === 'sent' ? outcome.at : null,
    })
    .where('id', '=', id)
    .execute()
}

/**
 * Puts failed deliveries of a broadcast back in the queue, and those stuck in "sending" when no
 * sender is working on them (a restart); returns how many wait to be sent.
 */
export async function requeueUndelivered(
  db: Db,
  broadcastId: number,
  includeStuck: boolean,
): Promise<number> {
  await db
    .updateTable('broadcast_recipient')
    .set({ status: 'pending', error: null })
    .where('broadcast_id', '=', broadcastId)
    .where('status', 'in', includeStuck ? ['failed', 'sending'] : ['failed'])
    .execute()
  const result = await db
    .selectFrom('broadcast_recipient')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('broadcast_id', '=', broadcastId)
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow()
  return Number(result.n)
}

/** A recipient row by id. */
export async function findRecipient(db: Db, id: number): Promise<BroadcastRecipient | undefined> {
  return db.selectFrom('broadcast_recipient').selectAll().where('id', '=', id).executeTakeFirst()
}

/**
 * Records an answer if that answer's link has not been used yet (each link works once; the other
 * answer's link can still change it). Undefined when the link was already used.
 */
export async function recordAnswer(
  db: Db,
  id: number,
  answer: 'safe' | 'help',
  at: number,
): Promise<BroadcastRecipient | undefined> {
  const used = answer === 'safe' ? 'safe_link_used_at' : 'help_link_used_at'
  return db
    .updateTable('broadcast_recipient')
    .set({ answer, answered_at: at, [used]: at })
    .where('id', '=', id)
    .where(used, 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** Ids of every active person (not deactivated). */
export async function listActivePersonIds(db: Db): Promise<number[]> {
  const rows = await db
    .selectFrom('person')
    .select('id')
    .where('deactivated_at', 'is', null)
    .orderBy('id')
    .execute()
  return rows.map((r) => r.id)
}

/** An answer to a broadcast, by a member of staff (`personId`) or a visitor (`visitorId`). */
export type RecentAnswer = {
  personId: number | null
  visitorId: number | null
  answer: 'safe' | 'help'
  answeredAt: number
}

/**
 * The latest answer per person or visitor to broadcasts sent since an instant and not tied to a
 * roll call, oldest first.
 */
export async function listRecentAnswers(db: Db, since: number): Promise<RecentAnswer[]> {
  const rows = await db
    .selectFrom('broadcast_recipient as r')
    .innerJoin('broadcast as b', 'b.id', 'r.broadcast_id')
    .select([
      'r.person_id as personId',
      'r.visitor_id as visitorId',
      'r.answer as answer',
      'r.answered_at as answeredAt',
    ])
    .where('b.created_at', '>=', since)
    .where('b.roll_call_id', 'is', null)
    .where('r.answer', 'is not', null)
    .orderBy('r.answered_at')
    .orderBy('r.id')
    .execute()
  const latest = new Map<string, RecentAnswer>()
  for (const r of rows)
    latest.set(r.personId !== null ? `p${r.personId}` : `v${r.visitorId}`, {
      personId: r.personId,
      visitorId: r.visitorId,
      answer: r.answer!,
      answeredAt: Number(r.answeredAt),
    })
  return [...latest.values()]
}

/** Broadcasts with recipients still waiting to be sent, oldest first (the worker's to-do list). */
export async function listBroadcastsWithPending(db: Db, limit = 20): Promise<number[]> {
  const rows = await db
    .selectFrom('broadcast_recipient')
    .select('broadcast_id')
    .distinct()
    .where('status', '=', 'pending')
    .orderBy('broadcast_id')
    .limit(limit)
    .execute()
  return rows.map((r) => r.broadcast_id)
}
