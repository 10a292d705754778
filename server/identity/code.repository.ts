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
  return findNewestCode(db, contactValue, purpose, { liveOnly: true })
}

/** The newest code for a contact and purpose, live or not (to explain why none is live). */
export async function findNewestCode(
  db: Db,
  contactValue: string,
  purpose: CodePurpose,
  options: { liveOnly?: boolean } = {},
): Promise<LoginCode | undefined> {
  let query = db
    .selectFrom('login_code')
    .selectAll()
    .where('contact_value', '=', contactValue)
    .where('purpose', '=', purpose)
  if (options.liveOnly) query = query.where('consumed_at', 'is', null)
  return query.orderBy('id', 'desc').limit(1).executeTakeFirst()
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

/** Which codes a limit counts: one contact's, one address's for contacts nobody has verified, or every text. */
export type CodeCount = { contactValue: string } | { unknownFromIp: string } | { texts: true }

/**
 * Creation times of the newest codes (at most `limit`) requested since an instant, newest first.
 * A contact is unknown while no person has verified it (contacts are only stored once verified).
 */
export async function newestCodeTimes(
  db: Db,
  by: CodeCount,
  since: number,
  limit: number,
): Promise<number[]> {
  let query = db.selectFrom('login_code').select('created_at').where('created_at', '>', since)
  if ('contactValue' in by) query = query.where('contact_value', '=', by.contactValue)
  else if ('texts' in by) query = query.where('contact_value', 'like', '+%')
  else
    query = query
      .where('ip', '=', by.unknownFromIp)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('contact')
              .select('contact.id')
              .whereRef('contact.value', '=', 'login_code.contact_value'),
          ),
        ),
      )
  const rows = await query.orderBy('created_at', 'desc').limit(limit).execute()
  return rows.map((r) => r.created_at)
}

/** Claims the alert for an hour; true for exactly one caller across every process. */
export async function claimBudgetAlert(
  db: Db,
  alert: { hourStart: number; at: number; codesSent: number },
): Promise<boolean> {
  const result = await db
    .insertInto('code_budget_alert')
    .values({ hour_start: alert.hourStart, created_at: alert.at, codes_sent: alert.codesSent })
    .onConflict((oc) => oc.column('hour_start').doNothing())
    .executeTakeFirst()
  return Number(result.numInsertedOrUpdatedRows ?? 0) === 1
}

/** The contacts of every active admin: each admin's email first, then phone numbers. */
export async function adminContactsForAlerts(
  db: Db,
): Promise<{ person_id: number; kind: 'email' | 'phone'; value: string }[]> {
  return db
    .selectFrom('contact')
    .innerJoin('person', 'person.id', 'contact.person_id')
    .select(['contact.person_id', 'contact.kind', 'contact.value'])
    .where('person.role', '=', 'admin')
    .where('person.deactivated_at', 'is', null)
    .orderBy('contact.person_id')
    .orderBy('contact.kind')
    .orderBy('contact.id')
    .execute()
}
