import type { Db } from '../db/connect.js'
import type { Person, Role } from '../db/database.js'

/** How many active people are admins. */
export async function countActiveAdmins(db: Db): Promise<number> {
  const row = await db
    .selectFrom('person')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'admin')
    .where('deactivated_at', 'is', null)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** True if a person's role was ever changed (so ADMIN_CONTACTS no longer applies to them). */
export async function hasRoleHistory(db: Db, personId: number): Promise<boolean> {
  const row = await db
    .selectFrom('audit_event')
    .select('id')
    .where('person_id', '=', personId)
    .where('action', 'in', ['role.granted', 'role.revoked'])
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}

/** Everyone with a role above staff, with one contact each, admins first. */
export async function listPrivileged(
  db: Db,
): Promise<
  (Pick<Person, 'id' | 'first_name' | 'last_name' | 'role' | 'deactivated_at'> & { contact: string | null })[]
> {
  return db
    .selectFrom('person')
    .select(['person.id', 'person.first_name', 'person.last_name', 'person.role', 'person.deactivated_at'])
    .select((eb) =>
      eb
        .selectFrom('contact')
        .select('contact.value')
        .whereRef('contact.person_id', '=', 'person.id')
        .orderBy('contact.id')
        .limit(1)
        .as('contact'),
    )
    .where('role', '!=', 'staff' satisfies Role)
    .orderBy('role')
    .orderBy('last_name')
    .orderBy('first_name')
    .execute()
}
