import type { Db } from '../db/connect.js'
import type { Reminder, ReminderAnswer } from '../db/database.js'

/** A claim older than this is from an attempt that died mid-send, and may be taken over. */
export const STALE_CLAIM_MS = 10 * 60_000

/** People with a visit open since `since` (today's start) and no reminder yet for `day`. */
export async function listDueReminders(
  db: Db,
  day: string,
  since: number,
): Promise<{ personId: number; visitId: number }[]> {
  const rows = await db
    .selectFrom('visit')
    .innerJoin('person', 'person.id', 'visit.person_id')
    .leftJoin('reminder', (join) =>
      join.onRef('reminder.person_id', '=', 'visit.person_id').on('reminder.day', '=', day),
    )
    .select(['visit.person_id as personId', 'visit.id as visitId'])
    .where('visit.signed_out_at', 'is', null)
    .where('visit.signed_in_at', '>=', since)
    .where('person.deactivated_at', 'is', null)
    .where('reminder.id', 'is', null)
    .orderBy('visit.person_id')
    .execute()
  return rows
}

/**
 * Claims the reminder for (person, day). The unique (person_id, day) constraint makes the claim
 * atomic across workers; a claim left by an attempt that died is taken over after STALE_CLAIM_MS.
 */
export async function claimReminder(
  db: Db,
  claim: { personId: number; day: string; visitId: number; at: number },
): Promise<Reminder | undefined> {
  const inserted = await db
    .insertInto('reminder')
    .values({ person_id: claim.personId, day: claim.day, visit_id: claim.visitId, created_at: claim.at })
    .onConflict((oc) => oc.columns(['person_id', 'day']).doNothing())
    .returningAll()
    .executeTakeFirst()
  if (inserted) return inserted
  return db
    .updateTable('reminder')
    .set({ created_at: claim.at, visit_id: claim.visitId })
    .where('person_id', '=', claim.personId)
    .where('day', '=', claim.day)
    .where('status', '=', 'sending')
    .where('created_at', '<', claim.at - STALE_CLAIM_MS)
    .returningAll()
    .executeTakeFirst()
}

/** Gives a claim back so a retry can take it (the send failed and nothing went out). */
export async function releaseReminder(db: Db, id: number): Promise<void> {
  await db.deleteFrom('reminder').where('id', '=', id).where('status', '=', 'sending').execute()
}

/** Records the outcome of a claimed reminder. */
export async function finishReminder(
  db: Db,
  id: number,
  outcome: { status: 'sent' | 'unreachable'; channel: string | null; at: number },
): Promise<void> {
  await db
    .updateTable('reminder')
    .set({ status: outcome.status, channel: outcome.channel, sent_at: outcome.at })
    .where('id', '=', id)
    .execute()
}

/** One reminder, or undefined. */
export async function findReminder(db: Db, id: number): Promise<Reminder | undefined> {
  return db.selectFrom('reminder').selectAll().where('id', '=', id).executeTakeFirst()
}

/** The reminder about a visit, if one was made. */
export async function findReminderOfVisit(db: Db, visitId: number): Promise<Reminder | undefined> {
  return db.selectFrom('reminder').selectAll().where('visit_id', '=', visitId).executeTakeFirst()
}

/**
 * Records the answer if none was given yet, "I've left" after "Still here" (the person stayed, then
 * left), or "Still here" again after "Still here" (the push's button, then the link): the latest
 * time counts, since a sign-out saved offline before it is overtaken (the audit trail keeps each
 * answer with its own time). False after "I've left": the links were used for that.
 */
export async function answerReminder(
  db: Db,
  id: number,
  answer: ReminderAnswer,
  at: number,
): Promise<boolean> {
  const result = await db
    .updateTable('reminder')
    .set((eb) => ({
      answer,
      // Never back: "Still here" handled a moment late (another process) keeps the later time.
      answered_at:
        answer === 'left'
          ? at
          : eb.case().when('answered_at', '>', at).then(eb.ref('answered_at')).else(at).end(),
    }))
    .where('id', '=', id)
    .where((eb) => eb.or([eb('answered_at', 'is', null), eb('answer', '=', 'still-here')]))
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}
