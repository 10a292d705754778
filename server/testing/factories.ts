import type { Db } from '../db/connect.js'
import type { ClosedBy, Role } from '../db/database.js'
import { insertContact } from '../identity/contact.repository.js'
import { insertPerson } from '../identity/person.repository.js'

/** Creates a person with one email contact, straight in the database. */
export async function makePerson(
  db: Db,
  person: { firstName: string; lastName: string; email: string; role?: Role; at?: number },
): Promise<number> {
  const at = person.at ?? Date.parse('2026-01-01T09:00:00Z')
  const row = await insertPerson(db, {
    first_name: person.firstName,
    last_name: person.lastName,
    role: person.role ?? 'staff',
    created_at: at,
    updated_at: at,
    deactivated_at: null,
  })
  await insertContact(db, { personId: row.id, kind: 'email', value: person.email, at })
  return row.id
}

/** Records a visit straight in the database (ISO instants); open when `out` is omitted. */
export async function makeVisit(
  db: Db,
  personId: number,
  visit: { in: string; out?: string; closedBy?: ClosedBy },
): Promise<number> {
  const row = await db
    .insertInto('visit')
    .values({
      person_id: personId,
      signed_in_at: Date.parse(visit.in),
      signed_out_at: visit.out ? Date.parse(visit.out) : null,
      closed_by: visit.out ? (visit.closedBy ?? 'person') : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}
