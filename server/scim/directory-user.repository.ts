import type { Db } from '../db/connect.js'
import type { DirectoryUser, Person } from '../db/database.js'

/** A directory-managed person with their SCIM row. */
export type DirectoryPerson = DirectoryUser &
  Pick<Person, 'first_name' | 'last_name' | 'deactivated_at' | 'created_at'>

const withPerson = (db: Db) =>
  db
    .selectFrom('directory_user')
    .innerJoin('person', 'person.id', 'directory_user.person_id')
    .selectAll('directory_user')
    .select(['person.first_name', 'person.last_name', 'person.deactivated_at', 'person.created_at'])

/** The directory row of a person, with the person. */
export async function findDirectoryUser(db: Db, personId: number): Promise<DirectoryPerson | undefined> {
  return withPerson(db).where('directory_user.person_id', '=', personId).executeTakeFirst()
}

/** The directory row with this userName (case-insensitive). */
export async function findDirectoryUserByName(db: Db, userName: string): Promise<DirectoryUser | undefined> {
  return db
    .selectFrom('directory_user')
    .selectAll()
    .where('user_name_key', '=', userName.toLowerCase())
    .executeTakeFirst()
}

/** Makes a person directory-managed. */
export async function insertDirectoryUser(
  db: Db,
  row: { personId: number; userName: string; externalId: string | null; active: boolean; at: number },
): Promise<void> {
  await db
    .insertInto('directory_user')
    .values({
      person_id: row.personId,
      user_name: row.userName,
      user_name_key: row.userName.toLowerCase(),
      external_id: row.externalId,
      active: row.active ? 1 : 0,
      created_at: row.at,
      updated_at: row.at,
    })
    .execute()
}

/** Updates what the directory says about a person. */
export async function updateDirectoryUser(
  db: Db,
  personId: number,
  row: { userName: string; externalId: string | null; active: boolean; at: number },
): Promise<void> {
  await db
    .updateTable('directory_user')
    .set({
      user_name: row.userName,
      user_name_key: row.userName.toLowerCase(),
      external_id: row.externalId,
      active: row.active ? 1 : 0,
      updated_at: row.at,
    })
    .where('person_id', '=', personId)
    .execute()
}

/** The directory no longer manages this person (their history stays). */
export async function deleteDirectoryUser(db: Db, personId: number): Promise<void> {
  await db.deleteFrom('directory_user').where('person_id', '=', personId).execute()
}

/** One page of directory users, optionally filtered by userName or externalId, and the total. */
export async function listDirectoryUsers(
  db: Db,
  filter: { userName?: string; externalId?: string },
  page: { offset: number; limit: number },
): Promise<{ rows: DirectoryPerson[]; total: number }> {
  let q = withPerson(db)
  let c = db.selectFrom('directory_user').select((eb) => eb.fn.countAll<number>().as('n'))
  if (filter.userName !== undefined) {
    q = q.where('directory_user.user_name_key', '=', filter.userName.toLowerCase())
    c = c.where('user_name_key', '=', filter.userName.toLowerCase())
  }
  if (filter.externalId !== undefined) {
    q = q.where('directory_user.external_id', '=', filter.externalId)
    c = c.where('external_id', '=', filter.externalId)
  }
  const rows = await q.orderBy('directory_user.person_id').offset(page.offset).limit(page.limit).execute()
  const total = Number((await c.executeTakeFirstOrThrow()).n)
  return { rows, total }
}
