import type { RequestContext } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Kiosk } from '../db/database.js'
import { UserError } from '../lib/errors.js'
import type { RegisterSite, signIn, TapResult } from '../register/register.service.js'
import { parseDoorCode, verifyDoorCode } from './door-code.js'
import { findKiosk } from './kiosk.repository.js'
import { auditKiosk } from './kiosk.service.js'
import { claimDoorCode } from './staff-pin.repository.js'
import { atTheDoor } from './staff-pin.service.js'

/** What a door code scanned by a phone says: the kiosk it came from, or why it cannot be used. */
export type DoorCodeReading = { ok: true; kiosk: Kiosk; slot: number } | { ok: false; reason: string }

/** Reads a door code without using it (the page the phone camera opens shows a button). */
export async function readDoorCode(db: Db, key: Buffer, code: string, now: number): Promise<DoorCodeReading> {
  const parsed = parseDoorCode(code)
  const kiosk = parsed ? await findKiosk(db, parsed.kioskId) : undefined
  const check = verifyDoorCode(key, kiosk && kiosk.removed_at === null ? kiosk : undefined, code, now)
  return check.ok ? { ok: true, kiosk: kiosk!, slot: check.slot } : check
}

/**
 * Signs a person in or out "at the door" with the code their phone scanned from a kiosk: the code
 * must be fresh (under a minute old), from a paired kiosk, signed for it, and not already used by
 * this person (a screenshot replayed later fails). Audited with the kiosk's name.
 */
export async function useDoorCode(
  db: Db,
  key: Buffer,
  request: {
    code: string
    personId: number
    action: 'sign-in' | 'sign-out'
    now: number
    context: RequestContext
  },
  site: RegisterSite,
): Promise<TapResult & { kiosk: Kiosk }> {
  const reading = await readDoorCode(db, key, request.code, request.now)
  if (!reading.ok) throw new UserError(422, reading.reason)
  const { kiosk } = reading
  const claimed = await claimDoorCode(db, {
    kioskId: kiosk.id,
    slot: reading.slot,
    personId: request.personId,
    at: request.now,
  })
  if (!claimed) {
    await auditKiosk(db, kiosk, {
      at: request.now,
      personId: request.personId,
      action: 'door-code.replayed',
      context: request.context,
    })
    throw new UserError(
      422,
      'You already used this door code. Scan the code on the kiosk again — it changes every 30 seconds.',
    )
  }
  const result = await atTheDoor(
    db,
    {
      kioskId: kiosk.id,
      kioskName: kiosk.name,
      personId: request.personId,
      now: request.now,
      context: request.context,
      method: 'door-code',
      action: request.action,
    },
    site,
  )
  return { ...result, kiosk }
}

/** The message when the register asks for the door code to sign in (REQUIRE_DOOR_CODE). */
export const DOOR_CODE_REQUIRED =
  'This building asks you to sign in at the door: scan the code on the kiosk by the entrance with your phone’s camera.'

/**
 * The self sign-in (home page, offline tap, API) when the register requires the door code: it is
 * refused, so only the door code, a kiosk PIN or reception can sign someone in. Signing out is
 * never gated.
 */
export function gateSelfSignIn(requireDoorCode: boolean, action: typeof signIn): typeof signIn {
  if (!requireDoorCode) return action
  return async () => {
    refuseSelfSignIn(requireDoorCode, 403)
    throw new Error('unreachable')
  }
}

/** Throws the door-code refusal when the register requires it (422 for a queued tap, so it is dropped with its message). */
export function refuseSelfSignIn(requireDoorCode: boolean, status: number): void {
  if (requireDoorCode) throw new UserError(status, DOOR_CODE_REQUIRED)
}
