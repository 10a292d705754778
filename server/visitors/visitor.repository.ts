import { type Insertable, sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type { Visitor, VisitorClosedBy, VisitorTable, VisitorVia } from '../db/database.js'

/** A visitor inside now, with their host's name (for the board, the roll call and exports). */
export interface VisitorInsideRow {
  visitorId: number
  name: string
  company: string
  hostPersonId: number | null
  hostFirstName: string | null
  hostLastName: string | null
  hostText: string | null
  phone: string | null
  signedInAt: number
  kioskName: string | null
}

/**
 * Inserts a visitor. A kiosk's sign-in carries its own key: a second copy of the same sign-in
 * (an offline replay sent twice) inserts nothing and returns undefined.
 */
export async function insertVisitor(db: Db, row: Insertable<VisitorTable>): Promise<Visitor | undefined> {
  return db
    .insertInto('visitor')
    .values(row)
    .onConflict((oc) => oc.columns(['kiosk_id', 'client_key']).doNothing())
    .returningAll()
    .executeTakeFirst()
}

/** A visitor by id. */
export async function findVisitor(db: Db, id: number): Promise<Visitor | undefined> {
  return db.selectFrom('visitor').selectAll().where('id', '=', id).executeTakeFirst()
}

/**
 * The visitor signed in with a given key by one of the kiosks named (to answer a replay with the
 * first answer): the kiosk sending it, and any the tablet saved it under while paired as another.
 * The oldest, should two of them hold the key.
 */
export async function findVisitorByClientKey(
  db: Db,
  kioskIds: readonly number[],
  key: string,
): Promise<Visitor | undefined> {
  return db
    .selectFrom('visitor')
    .selectAll()
    .where('kiosk_id', 'in', kioskIds)
    .where('client_key', '=', key)
    .orderBy('id')
    .executeTakeFirst()
}

// A visitor with their host's and kiosk's names: what the fire list reads for each visitor.
const visitorWithHost = (db: Db) =>
  db
    .selectFrom('visitor')
    .leftJoin('person', 'person.id', 'visitor.host_person_id')
    .leftJoin('kiosk', 'kiosk.id', 'visitor.kiosk_id')
    .select([
      'visitor.id as visitorId',
      'visitor.name as name',
      'visitor.company as company',
      'visitor.host_person_id as hostPersonId',
      'person.first_name as hostFirstName',
      'person.last_name as hostLastName',
      'visitor.host_text as hostText',
      'visitor.phone as phone',
      'visitor.signed_in_at as signedInAt',
      'kiosk.name as kioskName',
    ])
    .where('visitor.signed_in_at', 'is not', null)

/** Every visitor signed in and not out (any day), oldest first. */
export async function listVisitorsInside(db: Db): Promise<VisitorInsideRow[]> {
  const rows = await visitorWithHost(db)
    .where('visitor.signed_out_at', 'is', null)
    .orderBy('visitor.signed_in_at')
    .orderBy('visitor.id')
    .execute()
  return rows.map((r) => ({ ...r, signedInAt: Number(r.signedInAt) }))
}

/**
 * Visitors the auto-close closed at or after an instant (nobody saw them leave), oldest first, with
 * when it closed them (`closedAt`, from `closed_at`), even if it back-dated their end; for a visitor
 * closed before that column existed (202612031400), their end.
 */
export async function listVisitorsAutoClosedSince(
  db: Db,
  from: number,
): Promise<(VisitorInsideRow & { closedAt: number })[]> {
  const rows = await visitorsAutoClosedSinceQuery(db, from).execute()
  return rows.map(({ signedOutAt, closedAt, ...r }) => ({
    ...r,
    signedInAt: Number(r.signedInAt),
    closedAt: Number(closedAt ?? signedOutAt),
  }))
}

/** The query of listVisitorsAutoClosedSince (its plan is tested). */
export const visitorsAutoClosedSinceQuery = (db: Db, from: number) =>
  visitorWithHost(db)
    .select(['visitor.signed_out_at as signedOutAt', 'visitor.closed_at as closedAt'])
    // A literal, as the partial index visitor_closed_unseen spells it (see autoClosedSinceQuery).
    .where('visitor.closed_by', '=', sql.lit<VisitorClosedBy>('auto'))
    .where((eb) => eb(eb.fn.coalesce('visitor.closed_at', 'visitor.signed_out_at'), '>=', from))
    .orderBy('visitor.signed_in_at')
    .orderBy('visitor.id')

/**
 * Visits that the visitor or reception ended (not the auto-close) at or after an instant, oldest
 * first, with their end: what a roll call starting reads for visitors who left during the alarm.
 */
export async function listVisitorsSignedOutSince(
  db: Db,
  from: number,
): Promise<(VisitorInsideRow & { signedOutAt: number })[]> {
  const rows = await visitorWithHost(db)
    .select('visitor.signed_out_at as signedOutAt')
    .where('visitor.signed_out_at', '>=', from)
    .where('visitor.closed_by', 'in', ['visitor', 'reception'])
    .orderBy('visitor.signed_out_at')
    .orderBy('visitor.id')
    .execute()
  return rows.map(({ signedOutAt, ...r }) => ({
    ...r,
    signedInAt: Number(r.signedInAt),
    signedOutAt: Number(signedOutAt),
  }))
}

/**
 * Ends a visitor's visit if it is open: it ended `at`, and the register closed it at `closedAt` (the
 * server's clock now, as `closeVisit`); undefined if it was not open.
 */
export async function closeVisitor(
  db: Db,
  id: number,
  at: number,
  closedBy: VisitorClosedBy,
  closedAt: number,
): Promise<Visitor | undefined> {
  return db
    .updateTable('visitor')
    .set({ signed_out_at: at, closed_by: closedBy, closed_at: closedAt })
    .where('id', '=', id)
    .where('signed_in_at', 'is not', null)
    .where('signed_out_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** Signs a pre-registered visitor in, if they have not arrived yet and their invitation stands. */
export async function markVisitorArrived(
  db: Db,
  id: number,
  arrival: { at: number; kioskId: number | null; via: VisitorVia },
): Promise<Visitor | undefined> {
  return db
    .updateTable('visitor')
    .set({ signed_in_at: arrival.at, signed_in_via: arrival.via, kiosk_id: arrival.kioskId })
    .where('id', '=', id)
    .where('signed_in_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('visitor_invitation')
            .select('visitor_invitation.visitor_id')
            .whereRef('visitor_invitation.visitor_id', '=', 'visitor.id')
            .where('visitor_invitation.cancelled_at', 'is not', null),
        ),
      ),
    )
    .returningAll()
    .executeTakeFirst()
}

/**
 * Deletes a visitor who never arrived and everything hanging off them (an invitation nobody
 * received). A visitor checked in meanwhile is kept: they are in the building, on the fire list.
 */
export async function deleteVisitorNotArrived(db: Db, id: number): Promise<void> {
  await db.deleteFrom('visitor').where('id', '=', id).where('signed_in_at', 'is', null).execute()
}

/** A visitor's visit as reports show it, with the host's and the kiosk's names. */
export interface VisitorReportRow {
  id: number
  name: string
  company: string
  hostFirstName: string | null
  hostLastName: string | null
  hostText: string | null
  via: VisitorVia | null
  kioskName: string | null
  signedInAt: number
  signedOutAt: number | null
  closedBy: VisitorClosedBy | null
  noticeId: number | null
}

/**
 * Every visitor who signed in within [fromMs, toMs), oldest first. Visitors' data is kept only
 * VISITOR_RETENTION_DAYS, so one query holds few rows whatever the range.
 */
export async function listVisitorsSignedInBetween(
  db: Db,
  range: { fromMs: number; toMs: number },
): Promise<VisitorReportRow[]> {
  const rows = await db
    .selectFrom('visitor')
    .leftJoin('person', 'person.id', 'visitor.host_person_id')
    .leftJoin('kiosk', 'kiosk.id', 'visitor.kiosk_id')
    .select([
      'visitor.id as id',
      'visitor.name as name',
      'visitor.company as company',
      'person.first_name as hostFirstName',
      'person.last_name as hostLastName',
      'visitor.host_text as hostText',
      'visitor.signed_in_via as via',
      'kiosk.name as kioskName',
      'visitor.signed_in_at as signedInAt',
      'visitor.signed_out_at as signedOutAt',
      'visitor.closed_by as closedBy',
      'visitor.notice_id as noticeId',
    ])
    .where('visitor.signed_in_at', '>=', range.fromMs)
    .where('visitor.signed_in_at', '<', range.toMs)
    .orderBy('visitor.signed_in_at')
    .orderBy('visitor.id')
    .execute()
  return rows.map((r) => ({
    ...r,
    signedInAt: Number(r.signedInAt),
    signedOutAt: r.signedOutAt === null ? null : Number(r.signedOutAt),
  }))
}

/** A visitor with the name of the kiosk they signed in at. */
export async function findVisitorWithKiosk(
  db: Db,
  id: number,
): Promise<(Visitor & { kioskName: string | null }) | undefined> {
  return db
    .selectFrom('visitor')
    .leftJoin('kiosk', 'kiosk.id', 'visitor.kiosk_id')
    .selectAll('visitor')
    .select('kiosk.name as kioskName')
    .where('visitor.id', '=', id)
    .executeTakeFirst()
}

/** A once-only message about a visitor, marked by the instant it was claimed. */
type VisitorNotice = 'host_notified_at' | 'reminded_at'

/**
 * Sets the notice's mark if unset (or, with `staleBefore`, set before it: a claim whose sender
 * died): true for the one caller that gets it.
 */
async function claimNotice(
  db: Db,
  id: number,
  notice: VisitorNotice,
  at: number,
  staleBefore?: number,
): Promise<boolean> {
  const result = await db
    .updateTable('visitor')
    .set({ [notice]: at })
    .where('id', '=', id)
    .where((eb) =>
      staleBefore === undefined
        ? eb(notice, 'is', null)
        : eb.or([eb(notice, 'is', null), eb(notice, '<', staleBefore)]),
    )
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

/** Clears the notice's mark (its sending failed), so it can be tried again. */
async function releaseNotice(db: Db, id: number, notice: VisitorNotice): Promise<void> {
  await db
    .updateTable('visitor')
    .set({ [notice]: null })
    .where('id', '=', id)
    .execute()
}

/**
 * Claims telling the host about a visitor: true for the one caller that gets it. A claim made
 * before `staleBefore` is taken over (its sender died before it could say it was done).
 */
export const claimHostNotice = (db: Db, id: number, at: number, staleBefore: number) =>
  claimNotice(db, id, 'host_notified_at', at, staleBefore)

/** Gives a claimed host notice back (its sending failed), so it can be tried again. */
export const releaseHostNotice = (db: Db, id: number) => releaseNotice(db, id, 'host_notified_at')

/** Claims the host's reminder about a visitor still signed in: true for the one caller that gets it. */
export const claimVisitorReminder = (db: Db, id: number, at: number) => claimNotice(db, id, 'reminded_at', at)

/** Gives a claimed reminder back (its sending failed), so the next run tries again. */
export const releaseVisitorReminder = (db: Db, id: number) => releaseNotice(db, id, 'reminded_at')
