import type { Db } from '../db/connect.js'
import type { CodePurpose, LoginCode } from '../db/database.js'

/** Stores a new code after killing every earlier live code for the same contact and purpose. */
export async function replaceCode(
  db: Db,
  code: {
    contactValue: string
    purpose: CodePurpose
    personId: number | null
    codeHash: string
    expiresAt: number
    at: number
    ip: string
  },
): Promise<LoginCode> {
  await db
    .updateTable('login_code')
    .set({ consumed_at: code.at })
    .where('contact_value', '=', code.contactValue)
    .where('purpose', '=', code.purpose)
    .where('consumed_at', 'is', null)
    .execute()
  return db
    .insertInto('login_code')
    .values({
      contact_value: code.contactValue,
      purpose: code.purpose,
      person_id: code.personId,
      code_hash: code.codeHash,
      expires_at: code.expiresAt,
      created_at: code.at,
      ip: code.ip,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** The newest code for a contact and purpose that is not yet consumed (it may have expired). */
export async function findLiveCode(
  db: Db,
  contactValue: string,
  purpose: CodePurpose,
): Promise<LoginCode | undefined> {
  return db
    .selectFrom('login_code')
    .selectAll()
    .where('contact_value', '=', contactValue)
    .where('purpose', '=', purpose)
    .where('consumed_at', 'is', null)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst()
}

/** Counts a wrong guess; returns the new number of attempts. */
export async function recordWrongAttempt(db: Db, id: number): Promise<number> {
  const row = await db
    .updateTable('login_code')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', id)
    .returning('attempts')
    .executeTakeFirstOrThrow()
  return row.attempts
}

/** Marks a code used (or dead); returns false if someone else consumed it first. */
export async function consumeCode(db: Db, id: number, at: number): Promise<boolean> {
  const result = await db
    .updateTable('login_code')
    .set({ consumed_at: at })
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

/** Creation times of codes requested since an instant, by contact or by IP, oldest first. */
export async function recentCodeTimes(
  db: Db,
  by: { contactValue: string } | { ip: string },
  since: number,
): Promise<number[]> {
  let query = db.selectFrom('login_code').select('created_at').where('created_at', '>', since)
  query = 'ip' in by ? query.where('ip', '=', by.ip) : query.where('contact_value', '=', by.contactValue)
  const rows = await query.orderBy('created_at').execute()
  return rows.map((r) => r.created_at)
}
