import { createHmac, randomInt } from 'node:crypto'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Kiosk } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { hashToken, looksLikeToken, newToken } from '../identity/secrets.js'
import { UserError } from '../lib/errors.js'
import { MAX_ID } from '../lib/ids.js'
import {
  consumePairingCode,
  findKiosk,
  findKioskByToken,
  insertKiosk,
  listKiosks,
  removeKioskRow,
  setPairingCode,
  touchKiosk,
  unpairKioskRow,
} from './kiosk.repository.js'

/** How long a pairing code works. */
export const PAIRING_CODE_MS = 10 * 60 * 1000
/** A kiosk's last contact is written at most this often (its page checks in every minute). */
const HEARTBEAT_WRITE_MS = 30 * 1000
// No 0/O, 1/I/L: a code is read off one screen and typed on another.
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789'
const CODE_LENGTH = 8

/** Who did something to a kiosk, and from where. */
export interface KioskActor {
  personId: number | null
  at: number
  context: RequestContext
}

/** A fresh pairing code, shown as "ABCD-EFGH" (40 bits; single use, 10 minutes, rate limited). */
export function newPairingCode(): string {
  let code = ''
  for (let i = 0; i < CODE_LENGTH; i++) code += ALPHABET[randomInt(0, ALPHABET.length)]
  return `${code.slice(0, 4)}-${code.slice(4)}`
}

/** The pairing code as typed, in canonical form (capitals, no separators), or undefined if it cannot be one. */
export function canonicalPairingCode(typed: string): string | undefined {
  const code = typed.toUpperCase().replace(/[\s-]/g, '')
  return new RegExp(`^[${ALPHABET}]{${CODE_LENGTH}}$`).test(code) ? code : undefined
}

function hashPairingCode(key: Buffer, code: string): string {
  return createHmac('sha256', key)
    .update(`kiosk-pairing:${canonicalPairingCode(code)}`)
    .digest('base64url')
}

/** A kiosk's name from a form: 1–60 characters of text. */
export function kioskName(typed: string): string {
  const name = typed.normalize('NFC').trim().replace(/\s+/g, ' ')
  if (name === '') throw new UserError(422, 'Give the kiosk a name, such as “Main entrance”.')
  if (name.length > 60) throw new UserError(422, 'Keep the kiosk’s name under 60 characters.')
  return name
}

/** Creates a kiosk and its first pairing code (returned once, here). */
export async function createKiosk(
  db: Db,
  key: Buffer,
  actor: KioskActor,
  name: string,
): Promise<{ kiosk: Kiosk; code: string }> {
  const code = newPairingCode()
  const kiosk = await unitOfWork(db, async (trx) => {
    const row = await insertKiosk(trx, {
      name: kioskName(name),
      pairingCodeHash: hashPairingCode(key, code),
      pairingExpiresAt: actor.at + PAIRING_CODE_MS,
      by: actor.personId,
      at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'kiosk.created',
      context: actor.context,
      detail: { kioskId: row.id, kiosk: row.name },
    })
    return row
  })
  return { kiosk, code }
}

/** A new pairing code for an existing kiosk (to pair a replacement tablet); the old code dies. */
export async function renewPairingCode(
  db: Db,
  key: Buffer,
  actor: KioskActor,
  kioskId: number,
): Promise<string> {
  const code = newPairingCode()
  return unitOfWork(db, async (trx) => {
    const kiosk = await findKiosk(trx, kioskId)
    if (!kiosk || kiosk.removed_at !== null) throw new UserError(404, 'There is no such kiosk.')
    await setPairingCode(trx, kioskId, hashPairingCode(key, code), actor.at + PAIRING_CODE_MS)
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'kiosk.pairing-code',
      context: actor.context,
      detail: { kioskId, kiosk: kiosk.name },
    })
    return code
  })
}

/**
 * Pairs a tablet with the kiosk whose live code was typed: the code is used up and the tablet gets
 * a kiosk token (returned once; only its hash is stored). Pairing again replaces an earlier tablet.
 */
export async function pairKiosk(
  db: Db,
  key: Buffer,
  request: { code: string; at: number; context: RequestContext },
): Promise<{ kiosk: Kiosk; token: string }> {
  const wrong = new UserError(
    422,
    'That pairing code is not right, or it has expired or been used. Ask an administrator for a new one.',
  )
  if (!canonicalPairingCode(request.code)) throw wrong
  const token = newToken()
  return unitOfWork(db, async (trx) => {
    const kiosk = await consumePairingCode(trx, {
      codeHash: hashPairingCode(key, request.code),
      tokenHash: hashToken(token),
      at: request.at,
    })
    if (!kiosk) throw wrong
    await recordAudit(trx, {
      at: request.at,
      personId: null,
      action: 'kiosk.paired',
      context: request.context,
      detail: { kioskId: kiosk.id, kiosk: kiosk.name },
    })
    return { kiosk, token }
  })
}

/** The live kiosk a token stands for, recording its contact (the heartbeat). */
export async function authenticateKiosk(
  db: Db,
  token: string | undefined,
  at: number,
): Promise<{ kiosk: Kiosk; recorded: boolean } | undefined> {
  if (!token || !looksLikeToken(token)) return undefined
  const kiosk = await findKioskByToken(db, hashToken(token))
  if (!kiosk) return undefined
  const recorded = (kiosk.last_seen_at ?? 0) < at - HEARTBEAT_WRITE_MS
  if (recorded) await touchKiosk(db, kiosk.id, at)
  return { kiosk, recorded }
}

/** Unpairs a kiosk (its tablet's token stops working at its next request), or removes it from the list. */
export async function endKiosk(
  db: Db,
  actor: KioskActor,
  kioskId: number,
  how: 'unpaired' | 'removed',
): Promise<Kiosk> {
  return unitOfWork(db, async (trx) => {
    const kiosk =
      how === 'unpaired' ? await unpairKioskRow(trx, kioskId) : await removeKioskRow(trx, kioskId, actor.at)
    if (!kiosk) throw new UserError(404, 'There is no such kiosk.')
    await auditKiosk(trx, kiosk, {
      at: actor.at,
      personId: actor.personId,
      action: `kiosk.${how}`,
      context: actor.context,
    })
    return kiosk
  })
}

/** Writes an audit row for something done at a kiosk, naming the kiosk. */
export async function auditKiosk(
  db: Db,
  kiosk: Pick<Kiosk, 'id' | 'name'>,
  event: { at: number; personId?: number | null; action: string; context: RequestContext; detail?: object },
): Promise<void> {
  await recordAudit(db, {
    at: event.at,
    personId: event.personId ?? null,
    action: event.action,
    context: event.context,
    detail: { kioskId: kiosk.id, kiosk: kiosk.name, ...event.detail },
  })
}

/** Which kiosk a tablet saved a request under before it was paired as the one sending it, as audited. */
export interface SavedBy {
  savedByKioskId?: number
  savedByKiosk?: string
}

/**
 * The audit detail naming the kiosk a request was first saved under (the first of `savedUnder`, as
 * the tablet sends it), or nothing: its id, and its name while the kiosk row exists. Takes the
 * request's value as it came, so an unreadable one names nothing.
 */
export async function savedByKiosk(db: Db, savedUnder: unknown): Promise<SavedBy> {
  const id: unknown = Array.isArray(savedUnder) ? savedUnder[0] : undefined
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > MAX_ID) return {}
  const kiosk = await findKiosk(db, id)
  return { savedByKioskId: id, ...(kiosk ? { savedByKiosk: kiosk.name } : {}) }
}

/** Every kiosk, for the admin's list. */
export async function allKiosks(db: Db): Promise<Kiosk[]> {
  return listKiosks(db)
}
