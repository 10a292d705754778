import type { Db } from '../db/connect.js'
import type { SsoIdentity } from '../db/database.js'

/** The provider account (issuer + subject) already tied to a person, if any. */
export async function findSsoIdentity(
  db: Db,
  issuer: string,
  subject: string,
): Promise<SsoIdentity | undefined> {
  return db
    .selectFrom('sso_identity')
    .selectAll()
    .where('issuer', '=', issuer)
    .where('subject', '=', subject)
    .executeTakeFirst()
}

/** Ties a provider account to a person. */
export async function insertSsoIdentity(
  db: Db,
  row: {
    personId: number
    provider: string
    issuer: string
    subject: string
    email: string | null
    at: number
  },
): Promise<SsoIdentity> {
  return db
    .insertInto('sso_identity')
    .values({
      person_id: row.personId,
      provider: row.provider,
      issuer: row.issuer,
      subject: row.subject,
      email: row.email,
      created_at: row.at,
      last_login_at: row.at,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** Records a sign-in through a known provider account, with the email it gave this time. */
export async function touchSsoIdentity(
  db: Db,
  id: number,
  update: { provider: string; email: string | null; at: number },
): Promise<void> {
  await db
    .updateTable('sso_identity')
    .set({ provider: update.provider, email: update.email, last_login_at: update.at })
    .where('id', '=', id)
    .execute()
}

/** A person's organisation accounts, for their admin page. */
export async function listSsoIdentities(db: Db, personId: number): Promise<SsoIdentity[]> {
  return db.selectFrom('sso_identity').selectAll().where('person_id', '=', personId).orderBy('id').execute()
}
