import { type ExpressionBuilder, sql } from 'kysely'
import { type Db, dialectOf } from '../db/connect.js'
import type { ClosedBy, DB, Visit } from '../db/database.js'
import { preparedQuery } from '../db/prepared-query.js'

// The queries of a tap are built once (see preparedQuery).
const openVisitQuery = preparedQuery((db, v: { personId: number }) =>
  db.selectFrom('visit').selectAll().where('person_id', '=', v.personId).where('signed_out_at', 'is', null),
)

/** The person's open visit (there is at most one), or undefined. */
export async function findOpenVisit(db: Db, personId: number): Promise<Visit | undefined> {
  return (await openVisitQuery(db, { personId }))[0]
}

/** The person's most recent visit, open or closed. */
export async function findLatestVisit(db: Db, personId: number): Promise<Visit | undefined> {
  return db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', personId)
    .orderBy('signed_in_at', 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
}

const insertOpenVisitQuery = preparedQuery((db, v: { personId: number; at: number }) =>
  db
    .insertInto('visit')
    .values({ person_id: v.personId, signed_in_at: v.at, signed_out_at: null, closed_by: null })
    .onConflict((oc) => oc.column('person_id').where('signed_out_at', 'is', null).doNothing())
    .returningAll(),
)

/**
 * Opens a visit. The partial unique index refuses a second open visit for the same person, so a
 * race between two taps can only ever produce one; the loser gets undefined.
 */
export async function insertOpenVisit(db: Db, personId: number, at: number): Promise<Visit | undefined> {
  return (await insertOpenVisitQuery(db, { personId, at }))[0]
}

/**
 * Records that a sign-in at `at` found the visit already open (another device, reception, a tap
 * saved on another phone): the latest such time, while the visit is open. A tap saved offline
 * before it is overtaken, as by any change the register recorded. False when the visit is no longer
 * open (closed meanwhile by another process), or a later such time is recorded already.
 */
export async function recordSignedInAgain(db: Db, visitId: number, at: number): Promise<boolean> {
  const result = await db
    .updateTable('visit')
    .set({ signed_in_again_at: at })
    .where('id', '=', visitId)
    .where('signed_out_at', 'is', null)
    .where((eb) => eb.or([eb('signed_in_again_at', 'is', null), eb('signed_in_again_at', '<', at)]))
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

const closeVisitQuery = preparedQuery(
  (db, v: { visitId: number; at: number; closedBy: ClosedBy; closedAt: number }) =>
    db
      .updateTable('visit')
      .set({ signed_out_at: v.at, closed_by: v.closedBy, closed_at: v.closedAt })
      .where('id', '=', v.visitId)
      .where('signed_out_at', 'is', null)
      .returningAll(),
)

/**
 * Closes a visit if it is still open: it ended `at`, and the register closed it at `closedAt` (the
 * server's clock now; later than `at` when the close is back-dated). Returns the closed visit, or
 * undefined if it was not open.
 */
export async function closeVisit(
  db: Db,
  visitId: number,
  at: number,
  closedBy: ClosedBy,
  closedAt: number,
): Promise<Visit | undefined> {
  return (await closeVisitQuery(db, { visitId, at, closedBy, closedAt }))[0]
}

/**
 * Reads a visit and, on PostgreSQL, locks its row until the transaction ends: whoever changes the
 * visit or what overtakes a tap saved on a device ("Still here") takes it first, so the other
 * waits, and its next statement sees what the first committed. SQLite has one writer at a time.
 */
export async function lockVisit(db: Db, visitId: number): Promise<Visit | undefined> {
  return db
    .selectFrom('visit')
    .selectAll()
    .where('id', '=', visitId)
    .$if(dialectOf(db) === 'postgres', (qb) => qb.forNoKeyUpdate())
    .executeTakeFirst()
}

/**
 * Nothing recorded after `at` showed the person inside during the visit: no sign-in that found it
 * open (`signed_in_again_at`), no "Still here" to its reminder (the latest such answer's time).
 */
const notSeenInsideAfter = (at: number) => (eb: ExpressionBuilder<DB, 'visit'>) =>
  eb.and([
    eb.or([eb('visit.signed_in_again_at', 'is', null), eb('visit.signed_in_again_at', '<=', at)]),
    eb.not(
      eb.exists(
        eb
          .selectFrom('reminder')
          .select('reminder.id')
          .whereRef('reminder.visit_id', '=', 'visit.id')
          .where('reminder.answer', '=', 'still-here')
          .where('reminder.answered_at', '>', at),
      ),
    ),
  ])

/**
 * Closes a visit as its owner's sign-out made `at` on a device and sent later, if it is still open
 * and nothing after `at` showed them inside (a sign-in that found it open, "Still here"): checked in
 * the update itself, after taking the visit's row (lockVisit), so such a change committing while
 * this waits for the row (another process) still overtakes the tap. The lock comes first because
 * an update that waits re-reads only its own row: "Still here" lives in `reminder`.
 */
export async function closeVisitUnlessSeenInside(
  db: Db,
  visitId: number,
  at: number,
  closedAt: number,
): Promise<Visit | undefined> {
  await lockVisit(db, visitId)
  return db
    .updateTable('visit')
    .set({ signed_out_at: at, closed_by: 'person', closed_at: closedAt })
    .where('id', '=', visitId)
    .where('signed_out_at', 'is', null)
    .where(notSeenInsideAfter(at))
    .returningAll()
    .executeTakeFirst()
}

/** A person's visits that started within [from, to), newest first. */
export async function listVisitsForPerson(
  db: Db,
  personId: number,
  from: number,
  to: number,
): Promise<Visit[]> {
  return db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', personId)
    .where('signed_in_at', '>=', from)
    .where('signed_in_at', '<', to)
    .orderBy('signed_in_at', 'desc')
    .execute()
}

const peopleInsideQuery = preparedQuery((db) =>
  db.selectFrom('occupancy_slot').select((eb) => eb.fn.sum<number | null>('inside').as('inside')),
)

/**
 * How many people (not records) are in the building now: one open visit per person (the unique
 * index), counted by triggers on every change to `visit` into the slots of `occupancy_slot`
 * (several, so concurrent taps on PostgreSQL do not queue on one row), summed here.
 */
export async function countPeopleInside(db: Db): Promise<number> {
  const [row] = await peopleInsideQuery(db, {})
  if (row?.inside === null || row?.inside === undefined) {
    throw new Error('the occupancy slots are missing (migrations not run?)')
  }
  return Number(row.inside)
}

/**
 * Waits until every sign-in or sign-out already writing has committed, and holds new ones back
 * until the caller's transaction ends, so a list read next in it misses nobody who tapped meanwhile
 * (a roll call starting). Every change to `visit` updates an `occupancy_slot` row (the triggers) and
 * a visitor's sign-in writes `visitor`: a SHARE lock on both waits for every transaction that wrote
 * either and keeps new writers out, without blocking readers. One lock per table, so taps sharing a
 * transaction cannot deadlock with it as row locks taken in another order could; a transaction that
 * wrote both in the other order can (PostgreSQL ends one, which answers "try again").
 * SQLite has one writer at a time: a transaction that has written already holds the lock.
 */
export async function waitForSignInsInFlight(db: Db): Promise<void> {
  if (dialectOf(db) !== 'postgres') return
  await sql`lock table occupancy_slot, visitor in share mode`.execute(db)
}

/** Open visits that started before an instant, oldest first (for the nightly auto-close). */
export async function listOpenVisitsBefore(db: Db, before: number, limit: number): Promise<Visit[]> {
  return db
    .selectFrom('visit')
    .selectAll()
    .where('signed_out_at', 'is', null)
    .where('signed_in_at', '<=', before)
    .orderBy('signed_in_at')
    .orderBy('id')
    .limit(limit)
    .execute()
}

/**
 * The person corrects a visit the system auto-closed: it ends when they say, closed by them. Its
 * `closed_at` stays when the register closed it: a correction changes when it ended, not that.
 * `unlessSeenInside` (a sign-out saved on a device before the auto-close): only if nothing after
 * `at` showed them inside, checked in the update as in closeVisitUnlessSeenInside.
 */
export async function correctAutoClosedVisit(
  db: Db,
  visitId: number,
  at: number,
  { unlessSeenInside = false } = {},
): Promise<Visit | undefined> {
  if (unlessSeenInside) await lockVisit(db, visitId)
  return db
    .updateTable('visit')
    .set({ signed_out_at: at, closed_by: 'person' })
    .where('id', '=', visitId)
    .where('closed_by', '=', 'auto')
    .$if(unlessSeenInside, (qb) => qb.where(notSeenInsideAfter(at)))
    .returningAll()
    .executeTakeFirst()
}

/** A visit by id. */
export async function findVisit(db: Db, visitId: number): Promise<Visit | undefined> {
  return db.selectFrom('visit').selectAll().where('id', '=', visitId).executeTakeFirst()
}
