import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type { ClosedBy, ReminderAnswer, ReminderStatus } from '../db/database.js'

/** The reminder sent about a visit, as the fire list reads it. */
export interface VisitReminder {
  reminderStatus: ReminderStatus | null
  remindedAt: number | null
  answer: ReminderAnswer | null
  answeredAt: number | null
}

/** A person with an open visit, and the reminder about that visit (if any). */
export interface InsideRow extends VisitReminder {
  personId: number
  firstName: string
  lastName: string
  visitId: number
  signedInAt: number
}

/** A visit that ended, with its person. */
export interface DepartureRow {
  personId: number
  firstName: string
  lastName: string
  visitId: number
  signedInAt: number
  signedOutAt: number
  closedBy: ClosedBy
}

/** A visit the system closed, with its person and reminder. */
export interface AutoClosedRow extends VisitReminder {
  personId: number
  firstName: string
  lastName: string
  visitId: number
  signedInAt: number
  signedOutAt: number
  /**
   * When the register closed it (`closed_at`): later than `signedOutAt` when it back-dated the end
   * (an earlier day's visit ends at the end of that day); its end for a visit closed before 202612031400.
   */
  closedAt: number
  /** The nightly auto-close, the directory when they left the organisation, or a deactivation. */
  closedBy: ClosedBy
}

// A visit, its person and the reminder about it: what the fire list reads for each row.
const visitWithReminder = [
  'person.id as personId',
  'person.first_name as firstName',
  'person.last_name as lastName',
  'visit.id as visitId',
  'visit.signed_in_at as signedInAt',
  'reminder.status as reminderStatus',
  'reminder.sent_at as remindedAt',
  'reminder.answer as answer',
  'reminder.answered_at as answeredAt',
] as const

/** Everyone with an open visit (any day), in no particular order (the service sorts by name). */
export async function listOpenVisitsWithPeople(db: Db): Promise<InsideRow[]> {
  return db
    .selectFrom('visit')
    .innerJoin('person', 'person.id', 'visit.person_id')
    .leftJoin('reminder', 'reminder.visit_id', 'visit.id')
    .select(visitWithReminder)
    .where('visit.signed_out_at', 'is', null)
    .execute()
}

/**
 * Visits the system closed at or after an instant (when it closed them, `closed_at`, even if it
 * back-dated their end; for a visit closed before that column existed, its end) with no visit of
 * their person begun since it ended (nobody saw them come back or leave since), with the reminder
 * about each. A visit begun before it ended proves nothing: after a merge, the duplicate account's
 * visit of the same morning (closed at its own start) sits beside the one the auto-close closed that
 * night. While a visit is open its person can begin no other, so a visit begun after its end is a
 * sign of life even when the close was recorded later.
 */
export async function listAutoClosedSince(db: Db, from: number): Promise<AutoClosedRow[]> {
  const rows = await autoClosedSinceQuery(db, from).execute()
  return rows.map((r) => ({
    ...r,
    signedOutAt: r.signedOutAt!,
    closedAt: r.closedAt ?? r.signedOutAt!,
    closedBy: r.closedBy!,
  }))
}

/** The query of listAutoClosedSince (its plan is tested). */
export const autoClosedSinceQuery = (db: Db, from: number) =>
  db
    .selectFrom('visit')
    .innerJoin('person', 'person.id', 'visit.person_id')
    .leftJoin('reminder', 'reminder.visit_id', 'visit.id')
    .select([
      ...visitWithReminder,
      'visit.signed_out_at as signedOutAt',
      'visit.closed_at as closedAt',
      'visit.closed_by as closedBy',
    ])
    // Closed by nobody who saw them leave: the auto-close, the directory deprovisioning a leaver, or
    // an administrator deactivating someone.
    // As literals, as the partial index visit_closed_unseen spells them: a database can use it only
    // when the query's own text shows it asks for no other rows.
    .where('visit.closed_by', 'in', [
      sql.lit<ClosedBy>('auto'),
      sql.lit<ClosedBy>('directory'),
      sql.lit<ClosedBy>('deactivated'),
    ])
    .where((eb) => eb(eb.fn.coalesce('visit.closed_at', 'visit.signed_out_at'), '>=', from))
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('visit as later')
            .select('later.id')
            .whereRef('later.person_id', '=', 'visit.person_id')
            .whereRef('later.id', '!=', 'visit.id')
            .whereRef('later.signed_in_at', '>=', 'visit.signed_out_at'),
        ),
      ),
    )

/** Visits closed at or after an instant, latest first. */
export async function listVisitsClosedSince(db: Db, from: number): Promise<DepartureRow[]> {
  const rows = await db
    .selectFrom('visit')
    .innerJoin('person', 'person.id', 'visit.person_id')
    .select([
      'person.id as personId',
      'person.first_name as firstName',
      'person.last_name as lastName',
      'visit.id as visitId',
      'visit.signed_in_at as signedInAt',
      'visit.signed_out_at as signedOutAt',
      'visit.closed_by as closedBy',
    ])
    .where('visit.signed_out_at', '>=', from)
    .orderBy('visit.signed_out_at', 'desc')
    .orderBy('visit.id', 'desc')
    .execute()
  return rows.map((r) => ({ ...r, signedOutAt: r.signedOutAt!, closedBy: r.closedBy! }))
}

/** The verified phone numbers of some people (newest first per person), read in batches. */
export async function listPhonesOf(db: Db, personIds: readonly number[]): Promise<Map<number, string>> {
  const phones = new Map<number, string>()
  // SQLite limits bound parameters per statement; 500 stays well inside.
  for (let i = 0; i < personIds.length; i += 500) {
    const rows = await db
      .selectFrom('contact')
      .select(['person_id', 'value'])
      .where('kind', '=', 'phone')
      .where('person_id', 'in', personIds.slice(i, i + 500))
      .orderBy('person_id')
      .orderBy('id', 'desc')
      .execute()
    for (const row of rows) if (!phones.has(row.person_id)) phones.set(row.person_id, row.value)
  }
  return phones
}

/** One contact per person (phone first, then email), to tell people with the same name apart. */
export async function listContactHintsOf(
  db: Db,
  personIds: readonly number[],
): Promise<Map<number, { kind: 'phone' | 'email'; value: string }>> {
  const hints = new Map<number, { kind: 'phone' | 'email'; value: string }>()
  for (let i = 0; i < personIds.length; i += 500) {
    const rows = await db
      .selectFrom('contact')
      .select(['person_id', 'kind', 'value'])
      .where('person_id', 'in', personIds.slice(i, i + 500))
      // 'phone' sorts after 'email': descending puts phones first.
      .orderBy('person_id')
      .orderBy('kind', 'desc')
      .orderBy('id')
      .execute()
    for (const row of rows) if (!hints.has(row.person_id)) hints.set(row.person_id, row)
  }
  return hints
}
