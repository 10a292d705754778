import type { Db } from '../db/connect.js'
import type { NewPerson, Person, PersonUpdate } from '../db/database.js'

/** Inserts a person and returns it. */
export async function insertPerson(db: Db, person: NewPerson): Promise<Person> {
  return db.insertInto('person').values(person).returningAll().executeTakeFirstOrThrow()
}

/** The person with this id, or undefined. */
export async function findPersonById(db: Db, id: number): Promise<Person | undefined> {
  return db.selectFrom('person').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Applies a partial update to a person. */
export async function updatePerson(db: Db, id: number, update: PersonUpdate): Promise<void> {
  await db.updateTable('person').set(update).where('id', '=', id).execute()
}
