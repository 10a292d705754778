import type { Db } from '../db/connect.js'
import type { IntegrationToken, Role, TokenPurpose } from '../db/database.js'

/** Stores a new integration token's hash. */
export async function insertIntegrationToken(
  db: Db,
  token: {
    name: string
    role: Role
    tokenHash: string
    createdBy: number | null
    at: number
    purpose?: TokenPurpose
  },
): Promise<IntegrationToken> {
  return db
    .insertInto('integration_token')
    .values({
      name: token.name,
      role: token.role,
      token_hash: token.tokenHash,
      created_by: token.createdBy,
      created_at: token.at,
      last_used_at: null,
      revoked_at: null,
      purpose: token.purpose ?? 'api',
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** The live (not revoked) integration token with this hash, for this purpose. */
export async function findLiveIntegrationToken(
  db: Db,
  tokenHash: string,
  purpose: TokenPurpose = 'api',
): Promise<IntegrationToken | undefined> {
  return db
    .selectFrom('integration_token')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .where('purpose', '=', purpose)
    .executeTakeFirst()
}

/** True when a live (not revoked) integration token of any purpose has this hash. */
export async function integrationTokenHashIsLive(db: Db, tokenHash: string): Promise<boolean> {
  const row = await db
    .selectFrom('integration_token')
    .select('id')
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return row !== undefined
}

/** Records that a token was used, at most once a minute so reads do not become writes. */
export async function touchIntegrationToken(db: Db, id: number, at: number): Promise<void> {
  await db
    .updateTable('integration_token')
    .set({ last_used_at: at })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', at - 60_000)]))
    .execute()
}

/** Every integration token for a purpose, live ones first, newest first, with the creator's name. */
export async function listIntegrationTokens(
  db: Db,
  purpose: TokenPurpose = 'api',
): Promise<(IntegrationToken & { creator_first: string | null; creator_last: string | null })[]> {
  return db
    .selectFrom('integration_token')
    .where('integration_token.purpose', '=', purpose)
    .leftJoin('person', 'person.id', 'integration_token.created_by')
    .selectAll('integration_token')
    .select(['person.first_name as creator_first', 'person.last_name as creator_last'])
    .orderBy((eb) => eb('integration_token.revoked_at', 'is', null), 'desc')
    .orderBy('integration_token.created_at', 'desc')
    .orderBy('integration_token.id', 'desc')
    .execute()
}

/** Revokes a token of a purpose; returns it if it was live. */
export async function revokeIntegrationToken(
  db: Db,
  id: number,
  at: number,
  purpose: TokenPurpose = 'api',
): Promise<IntegrationToken | undefined> {
  return db
    .updateTable('integration_token')
    .set({ revoked_at: at })
    .where('id', '=', id)
    .where('purpose', '=', purpose)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}
