import { type Insertable, sql } from 'kysely'
import { type Db, dialectOf } from '../db/connect.js'
import type { Invitation, InvitationTable } from '../db/database.js'

/** The PostgreSQL advisory lock key that imports take; no other lock of the register uses it. */
const IMPORT_LOCK = 4_107_202_611

/**
 * Takes the import lock until the caller's transaction ends, so an import's checks (a contact's
 * live invitation, the daily text ceiling) see every import committed before it: no constraint can
 * say "one live invitation per contact", since a link expires by the clock. False, at once, when
 * another import holds it: waiting would hold up every other unit of the caller's shared commit
 * (sign-ins among them). SQLite has one writer: a write transaction (`begin immediate`) already
 * holds out every other, so there it is always true.
 */
export async function tryLockInvitationImports(db: Db): Promise<boolean> {
  if (dialectOf(db) !== 'postgres') return true
  const tryLock = sql<{ locked: boolean }>`select pg_try_advisory_xact_lock(${IMPORT_LOCK}) as locked`
  const { rows } = await tryLock.execute(db)
  return rows[0]!.locked
}

/** Saves invitations (status pending), in chunks so no statement has too many parameters. */
export async function insertInvitations(
  db: Db,
  rows: Omit<Insertable<InvitationTable>, 'id'>[],
): Promise<Invitation[]> {
  const saved: Invitation[] = []
  for (let i = 0; i < rows.length; i += 50) {
    saved.push(
      ...(await db
        .insertInto('invitation')
        .values(rows.slice(i, i + 50))
        .returningAll()
        .execute()),
    )
  }
  return saved
}

/**
 * The invitations among these contacts that may still be used or are still to be sent (a second
 * one would be a duplicate): pending, being sent, or sent and not expired.
 */
export async function findLiveInvitations(
  db: Db,
  contactValues: readonly string[],
  now: number,
): Promise<Pick<Invitation, 'id' | 'contact_value' | 'created_at'>[]> {
  if (contactValues.length === 0) return []
  const found: Pick<Invitation, 'id' | 'contact_value' | 'created_at'>[] = []
  for (let i = 0; i < contactValues.length; i += 500) {
    found.push(
      ...(await db
        .selectFrom('invitation')
        .select(['id', 'contact_value', 'created_at'])
        .where('contact_value', 'in', contactValues.slice(i, i + 500))
        .where('status', 'in', ['pending', 'sending', 'sent'])
        .where('expires_at', '>', now)
        .execute()),
    )
  }
  return found
}

/** How many invitations by text were created since an instant (the daily ceiling counts these). */
export async function countTextInvitationsSince(db: Db, since: number): Promise<number> {
  const row = await db
    .selectFrom('invitation')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('contact_kind', '=', 'phone')
    .where('created_at', '>', since)
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/**
 * Ids of invitations waiting to be sent, oldest first: pending ones, and ones a sender claimed
 * before `staleBefore` and never finished (it died).
 */
export async function listInvitationsToSend(db: Db, staleBefore: number): Promise<number[]> {
  const rows = await db
    .selectFrom('invitation')
    .select('id')
    .where((eb) =>
      eb.or([
        eb('status', '=', 'pending'),
        eb.and([eb('status', '=', 'sending'), eb('claimed_at', '<', staleBefore)]),
      ]),
    )
    .orderBy('id')
    .limit(5000)
    .execute()
  return rows.map((r) => r.id)
}

/**
 * Claims an invitation for sending and stores the hash of the token about to be sent; undefined
 * when another sender has it (or it was revoked meanwhile).
 */
export async function claimInvitation(
  db: Db,
  claim: { id: number; tokenHash: string; at: number; staleBefore: number },
): Promise<Invitation | undefined> {
  return db
    .updateTable('invitation')
    .set({ status: 'sending', claimed_at: claim.at, token_hash: claim.tokenHash })
    .where('id', '=', claim.id)
    .where((eb) =>
      eb.or([
        eb('status', '=', 'pending'),
        eb.and([eb('status', '=', 'sending'), eb('claimed_at', '<', claim.staleBefore)]),
      ]),
    )
    .returningAll()
    .executeTakeFirst()
}

/** Records how a send went (only while the invitation is still being sent: a revoke wins). */
export async function finishInvitationSend(
  db: Db,
  id: number,
  outcome: { status: 'sent' | 'failed'; error: string | null; messageId: number | null; at: number },
): Promise<boolean> {
  const result = await db
    .updateTable('invitation')
    .set({
      status: outcome.status,
      error: outcome.error,
      message_id: outcome.messageId,
      sent_at: outcome.status === 'sent' ? outcome.at : null,
      // A link that was never delivered must not work.
      ...(outcome.status === 'failed' ? { token_hash: null } : {}),
    })
    .where('id', '=', id)
    .where('status', '=', 'sending')
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

/** The invitation a token's hash stands for. */
export async function findInvitationByTokenHash(db: Db, tokenHash: string): Promise<Invitation | undefined> {
  return db.selectFrom('invitation').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst()
}

/** One invitation by id. */
export async function findInvitation(db: Db, id: number): Promise<Invitation | undefined> {
  return db.selectFrom('invitation').selectAll().where('id', '=', id).executeTakeFirst()
}

/**
 * Marks a sent, unexpired invitation used; false when it was used, revoked or expired meanwhile.
 * A link opened before its sender recorded the send (still "sending") was delivered: it counts.
 */
export async function markInvitationUsed(
  db: Db,
  use: { id: number; personId: number; at: number },
): Promise<boolean> {
  const result = await db
    .updateTable('invitation')
    .set({ status: 'used', used_at: use.at, person_id: use.personId })
    .where('id', '=', use.id)
    .where('status', 'in', ['sending', 'sent'])
    .where('expires_at', '>', use.at)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

/**
 * Revokes an invitation not yet used; false when it was already used or revoked. The token's hash
 * stays, so the link's page can say it was withdrawn.
 */
export async function markInvitationRevoked(db: Db, id: number, at: number): Promise<boolean> {
  const result = await db
    .updateTable('invitation')
    .set({ status: 'revoked', revoked_at: at })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'sending', 'sent', 'failed'])
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

/** An invitation as the admin page lists it, with who sent it. */
export type InvitationLine = Omit<Invitation, 'token_hash'> & {
  creator_first: string | null
  creator_last: string | null
}

/** The newest invitations, for the admin page. */
export async function listInvitations(db: Db, limit: number): Promise<InvitationLine[]> {
  return db
    .selectFrom('invitation')
    .leftJoin('person as creator', 'creator.id', 'invitation.created_by')
    .select([
      'invitation.id',
      'invitation.person_id',
      'invitation.first_name',
      'invitation.last_name',
      'invitation.contact_kind',
      'invitation.contact_value',
      'invitation.status',
      'invitation.error',
      'invitation.message_id',
      'invitation.created_by',
      'invitation.created_at',
      'invitation.expires_at',
      'invitation.claimed_at',
      'invitation.sent_at',
      'invitation.used_at',
      'invitation.revoked_at',
      'creator.first_name as creator_first',
      'creator.last_name as creator_last',
    ])
    .orderBy('invitation.id', 'desc')
    .limit(limit)
    .execute()
}

/** How many invitations stand in each status (expired ones apart), for the admin page's summary. */
export async function countInvitationsByStatus(db: Db, now: number): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('invitation')
    .select((eb) => [
      eb
        .case()
        .when(eb.and([eb('status', '=', 'sent'), eb('expires_at', '<=', now)]))
        .then('expired')
        .else(eb.ref('status'))
        .end()
        .as('state'),
      eb.fn.countAll<number>().as('n'),
    ])
    .groupBy('state')
    .execute()
  return Object.fromEntries(rows.map((r) => [String(r.state), Number(r.n)]))
}

/** A contact's owner, as an import matches rows to people already here. */
export interface ContactOwner {
  person_id: number
  first_name: string
  last_name: string
  deactivated_at: number | null
  erased_at: number | null
}

/** The people who own any of these contacts (verified), by contact value. */
export async function findContactOwners(
  db: Db,
  contactValues: readonly string[],
): Promise<Map<string, ContactOwner>> {
  const owners = new Map<string, ContactOwner>()
  for (let i = 0; i < contactValues.length; i += 500) {
    const rows = await db
      .selectFrom('contact')
      .innerJoin('person', 'person.id', 'contact.person_id')
      .select([
        'contact.value',
        'contact.person_id',
        'person.first_name',
        'person.last_name',
        'person.deactivated_at',
        'person.erased_at',
      ])
      .where('contact.value', 'in', contactValues.slice(i, i + 500))
      .execute()
    for (const { value, ...owner } of rows) owners.set(value, owner)
  }
  return owners
}
