import type { Db } from '../db/connect.js'
import type { ClosedBy } from '../db/database.js'

/** A person with an open visit. */
export interface InsideRow {
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
  signedInAt: number
  signedOutAt: number
  closedBy: ClosedBy
}

/** Everyone with an open visit (any day), in no particular order (the service sorts by name). */
export async function listOpenVisitsWithPeople(db: Db): Promise<InsideRow[]> {
  return db
    .selectFrom('visit')
    .innerJoin('person', 'person.id', 'visit.person_id')
    .select([
      'person.id as personId',
      'person.first_name as firstName',
      'person.last_name as lastName',
      'visit.id as visitId',
      'visit.signed_in_at as signedInAt',
    ])
    .where('visit.signed_out_at', 'is', null)
    .execute()
}

/** Visits closed at or after an instant, latest first. */
export async function listVisitsClosedSince(db: Db, from: number): Promise<DepartureRow[]> {
  const rows = await db
    .selectFrom('visit')
    .innerJoin('person', 'person.id', 'visit.person_id')
    .select([
      'person.id as personId',
      'person.first_name as firstName',
      'person.last_name as lastName',
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
