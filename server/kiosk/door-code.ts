import { createHmac } from 'node:crypto'
import type { Kiosk } from '../db/database.js'
import { sameHash } from '../identity/secrets.js'

/** The door code changes every 30 seconds. */
export const DOOR_CODE_SLOT_MS = 30 * 1000
/** A code works in its own slot and the next one: between 30 and 60 seconds after it appears. */
const SLOTS_VALID = 2

/** The slot an instant falls in. */
export function doorSlot(at: number): number {
  return Math.floor(at / DOOR_CODE_SLOT_MS)
}

// Bound to the kiosk and to its pairing: unpairing a kiosk kills every code it has shown.
function signature(key: Buffer, kiosk: Pick<Kiosk, 'id' | 'paired_at'>, slot: number): string {
  return createHmac('sha256', key)
    .update(`door-code:${kiosk.id}:${kiosk.paired_at ?? 'unpaired'}:${slot}`)
    .digest('base64url')
    .slice(0, 22)
}

/** The code a kiosk shows at an instant, and when it stops working. */
export function doorCode(
  key: Buffer,
  kiosk: Pick<Kiosk, 'id' | 'paired_at'>,
  at: number,
): { code: string; slot: number; changesAt: number; expiresAt: number } {
  const slot = doorSlot(at)
  return {
    code: `${kiosk.id}-${slot}-${signature(key, kiosk, slot)}`,
    slot,
    changesAt: (slot + 1) * DOOR_CODE_SLOT_MS,
    expiresAt: (slot + SLOTS_VALID) * DOOR_CODE_SLOT_MS,
  }
}

/** The kiosk and slot a code names, if it is well formed (its signature is checked by verifyDoorCode). */
export function parseDoorCode(
  code: string,
): { kioskId: number; slot: number; signature: string } | undefined {
  const match = /^([1-9]\d{0,9})-([1-9]\d{0,12})-([A-Za-z0-9_-]{22})$/.exec(code)
  if (!match) return undefined
  return { kioskId: Number(match[1]), slot: Number(match[2]), signature: match[3]! }
}

/** Why a door code was refused, in words for the person holding the phone. */
export type DoorCodeCheck = { ok: true; slot: number } | { ok: false; reason: string }

/**
 * Checks a code against the kiosk it names: signed by us for this kiosk's current pairing, and
 * shown less than a minute ago. A screenshot of an old code, or a code altered to name another
 * kiosk, fails.
 */
export function verifyDoorCode(
  key: Buffer,
  kiosk: Pick<Kiosk, 'id' | 'paired_at' | 'token_hash'> | undefined,
  code: string,
  at: number,
): DoorCodeCheck {
  const parsed = parseDoorCode(code)
  const bad = { ok: false, reason: 'That is not a door code from this building’s kiosk.' } as const
  if (!parsed || !kiosk || kiosk.id !== parsed.kioskId || kiosk.token_hash === null) return bad
  if (!sameHash(parsed.signature, signature(key, kiosk, parsed.slot))) return bad
  const now = doorSlot(at)
  if (parsed.slot > now || now - parsed.slot >= SLOTS_VALID) {
    return {
      ok: false,
      reason: 'That door code has expired. Scan the code on the kiosk again — it changes every 30 seconds.',
    }
  }
  return { ok: true, slot: parsed.slot }
}
