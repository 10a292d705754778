import type { Db } from '../db/connect.js'
import type { Contact, ContactKind } from '../db/database.js'

/** The contact row with this canonical value, or undefined. */
export async function findContactByValue(db: Db, value: string): Promise<Contact | undefined> {
  return db.selectFrom('contact').selectAll().where('value', '=', value).executeTakeFirst()
}

/** Every contact of a person, emails first. */
export async function listContacts(db: Db, personId: number): Promise<Contact[]> {
  return db
    .selectFrom('contact')
    .selectAll()
    .where('person_id', '=', personId)
    .orderBy('kind')
    .orderBy('id')
    .execute()
}

/** Attaches a verified contact to a person. */
export async function insertContact(
  db: Db,
  contact: { personId: number; kind: ContactKind; value: string; at: number },
): Promise<Contact> {
  return db
    .insertInto('contact')
    .values({
      person_id: contact.personId,
      kind: contact.kind,
      value: contact.value,
      verified_at: contact.at,
      created_at: contact.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** Removes one of a person's contacts. */
export async function deleteContact(db: Db, personId: number, contactId: number): Promise<number> {
  const result = await db
    .deleteFrom('contact')
    .where('id', '=', contactId)
    .where('person_id', '=', personId)
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}
