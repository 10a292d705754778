import { recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { IntegrationToken, Role, TokenPurpose } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { UserError } from '../lib/errors.js'
import {
  findLiveIntegrationToken,
  insertIntegrationToken,
  integrationTokenHashIsLive,
  listIntegrationTokens,
  revokeIntegrationToken,
  touchIntegrationToken,
} from './integration-token.repository.js'
import { roles } from './roles.js'
import type { AdminActor } from './roles.service.js'
import { hashToken, looksLikeToken, newToken } from './secrets.js'

/** Every integration token, newest first, with who created it (for the admin's list). */
export async function listTokens(
  db: Db,
  purpose?: Parameters<typeof listIntegrationTokens>[1],
): ReturnType<typeof listIntegrationTokens> {
  return listIntegrationTokens(db, purpose)
}

/** Field errors for the new-token form. */
export class TokenFormError extends UserError {
  constructor(public readonly errors: { name?: string; role?: string }) {
    super(422, 'Please check the token details.')
  }
}

/** The audit action of a token event: API tokens as token.*, directory sync tokens as directory.token-*. */
const tokenAction = (purpose: TokenPurpose, what: 'created' | 'revoked') =>
  purpose === 'scim' ? `directory.token-${what}` : `token.${what}`

/**
 * Creates a long-lived token: an API token that acts with a role, or (purpose scim) a directory
 * sync token that opens only /scim/v2. The token is returned once, here; only its hash is stored.
 */
export async function createIntegrationToken(
  db: Db,
  actor: AdminActor,
  input: { name: unknown; role?: unknown },
  purpose: TokenPurpose = 'api',
): Promise<{ token: string; row: IntegrationToken }> {
  const name = typeof input.name === 'string' ? input.name.trim().replace(/\s+/g, ' ') : ''
  // A staff token would be nobody with nothing to do: tokens are for reception or admin work.
  // A directory token has no role of its own (it can only provision people).
  const role = purpose === 'scim' ? 'admin' : roles.find((r) => r !== 'staff' && r === input.role)
  const errors: { name?: string; role?: string } = {}
  if (name === '') errors.name = 'Name the system that will use this token, e.g. “Lobby screen”.'
  else if (name.length > 80) errors.name = 'Keep the name to 80 characters or fewer.'
  if (!role) errors.role = 'Choose what the token may do.'
  if (errors.name || errors.role || !role) throw new TokenFormError(errors)
  const token = newToken()
  const row = await unitOfWork(db, async (trx) => {
    const row = await insertIntegrationToken(trx, {
      name,
      role,
      tokenHash: hashToken(token),
      createdBy: actor.personId,
      at: actor.at,
      purpose,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: tokenAction(purpose, 'created'),
      context: actor.context,
      detail: { tokenId: row.id, name, role, by: actor.personId },
    })
    return row
  })
  return { token, row }
}

/** Revokes an integration token; it stops working on its next request. */
export async function revokeToken(
  db: Db,
  actor: AdminActor,
  id: number,
  purpose: TokenPurpose = 'api',
): Promise<IntegrationToken> {
  return unitOfWork(db, async (trx) => {
    const row = await revokeIntegrationToken(trx, id, actor.at, purpose)
    if (!row) throw new UserError(404, 'That token does not exist or is already revoked.')
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: tokenAction(purpose, 'revoked'),
      context: actor.context,
      detail: { tokenId: row.id, name: row.name, role: row.role, by: actor.personId },
    })
    return row
  })
}

/** True when a bearer token is a live integration token (API or SCIM); reads only, marks nothing. */
export async function isLiveIntegrationToken(db: Db, token: string): Promise<boolean> {
  return looksLikeToken(token) && (await integrationTokenHashIsLive(db, hashToken(token)))
}

/** The live integration token of a purpose a bearer token stands for, if any; marks it used. */
export async function authenticateIntegrationToken(
  db: Db,
  token: string | undefined,
  at: number,
  purpose: TokenPurpose = 'api',
): Promise<{ id: number; name: string; role: Role } | undefined> {
  if (!token || !looksLikeToken(token)) return undefined
  const row = await findLiveIntegrationToken(db, hashToken(token), purpose)
  if (!row) return undefined
  await touchIntegrationToken(db, row.id, at)
  return { id: row.id, name: row.name, role: row.role }
}
