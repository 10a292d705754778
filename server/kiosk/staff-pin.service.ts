import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Kiosk } from '../db/database.js'
import { TooManyRequestsError, UserError } from '../lib/errors.js'
import { formatTime } from '../lib/site-time.js'
import {
  type Presence,
  presenceOf,
  type RegisterSite,
  signIn,
  signOut,
  type TapResult,
} from '../register/register.service.js'
import { findLatestVisit } from '../register/visit.repository.js'
import { auditKiosk } from './kiosk.service.js'
import {
  claimPinTry,
  clearPinFailures,
  deleteStaffPin,
  findStaffPin,
  insertVisitAtDoor,
  lockSpentStaffPin,
  lockStaffPin,
  upsertStaffPin,
} from './staff-pin.repository.js'

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>

/** Wrong PINs in a row before the PIN locks. */
export const PIN_MAX_FAILURES = 5
/** How long a locked PIN stays locked. */
export const PIN_LOCK_MS = 15 * 60 * 1000
// scrypt's cost: ~50 ms per check here, so a stolen table of 4–8 digit PINs is slow to search.
const COST = { N: 2 ** 14, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

/** Hashes a PIN with scrypt and a random salt: "scrypt$N$r$p$salt$hash". */
export async function hashPin(pin: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(pin, salt, 32, COST)
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

/** True when the PIN matches the stored hash (constant-time compare). */
export async function pinMatches(pin: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$')
  if (kind !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scryptAsync(pin, Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: COST.maxmem,
  })
  return timingSafeEqual(actual, expected)
}

/** Checks a new PIN: 4 to 8 digits, not one digit repeated nor a run like 1234 or 9876. */
export function checkNewPin(pin: string): string {
  if (!/^\d{4,8}$/.test(pin)) throw new UserError(422, 'Your PIN must be 4 to 8 digits.')
  const digits = [...pin].map(Number)
  const steps = new Set(digits.slice(1).map((d, i) => d - digits[i]!))
  if (steps.size === 1 && [0, 1, -1].includes([...steps][0]!))
    throw new UserError(422, 'That PIN is too easy to guess (like 1111 or 1234). Choose another.')
  return pin
}

/** Who sets a PIN, and from where. */
interface PinActor {
  personId: number
  at: number
  context: RequestContext
}

/** Sets (or replaces) the person's kiosk PIN, stored hashed; any lockout ends. Audited. */
export async function setStaffPin(db: Db, actor: PinActor, pin: string): Promise<void> {
  const hash = await hashPin(checkNewPin(pin))
  await upsertStaffPin(db, actor.personId, hash, actor.at)
  await recordAudit(db, { at: actor.at, personId: actor.personId, action: 'pin.set', context: actor.context })
}

/** Removes the person's kiosk PIN. Audited. */
export async function removeStaffPin(db: Db, actor: PinActor): Promise<void> {
  if (await deleteStaffPin(db, actor.personId))
    await recordAudit(db, {
      at: actor.at,
      personId: actor.personId,
      action: 'pin.removed',
      context: actor.context,
    })
}

/** Whether the person has set a kiosk PIN. */
export async function hasStaffPin(db: Db, personId: number): Promise<boolean> {
  return (await findStaffPin(db, personId)) !== undefined
}

/**
 * A member of staff at a kiosk without their phone: the right PIN signs them in (or out, if in).
 * Five wrong PINs in a row lock it for 15 minutes. Every try is audited with the kiosk's name.
 */
export async function signInOrOutWithPin(
  db: Db,
  request: {
    kiosk: Pick<Kiosk, 'id' | 'name'>
    personId: number
    pin: string
    now: number
    context: RequestContext
  },
  site: RegisterSite,
): Promise<TapResult> {
  const { kiosk, personId, now, context } = request
  const wrong = new UserError(422, 'That PIN is not right. Try again, or use your phone.')
  const row = await findStaffPin(db, personId)
  if (!row) throw wrong
  const refuseLocked = async (retryMs: number): Promise<never> => {
    await auditKiosk(db, kiosk, { at: now, personId, action: 'pin.refused-locked', context })
    throw new TooManyRequestsError('Too many wrong PINs, so your PIN is locked for now.', retryMs)
  }
  if (row.locked_until !== null && row.locked_until > now) return refuseLocked(row.locked_until - now)
  // A try is taken before the (slow) check, so a burst of guesses gets five, as one by one would.
  const tries = await claimPinTry(db, personId, now, PIN_MAX_FAILURES)
  if (tries === undefined) {
    await lockSpentStaffPin(db, personId, now + PIN_LOCK_MS, PIN_MAX_FAILURES)
    return refuseLocked(PIN_LOCK_MS)
  }
  if (!/^\d{4,8}$/.test(request.pin) || !(await pinMatches(request.pin, row.pin_hash))) {
    const failures = tries
    if (failures >= PIN_MAX_FAILURES) {
      await lockStaffPin(db, personId, now + PIN_LOCK_MS)
      await auditKiosk(db, kiosk, { at: now, personId, action: 'pin.locked', context, detail: { failures } })
      throw new TooManyRequestsError('Too many wrong PINs, so your PIN is locked for now.', PIN_LOCK_MS)
    }
    await auditKiosk(db, kiosk, { at: now, personId, action: 'pin.failed', context, detail: { failures } })
    throw wrong
  }
  await clearPinFailures(db, personId)
  return atTheDoor(
    db,
    { kioskId: kiosk.id, kioskName: kiosk.name, personId, now, context, method: 'pin' },
    site,
  )
}

/**
 * Signs a person in (or out, when in) at a kiosk, marking the visit as begun or ended at the door,
 * with how: the door code on their phone, or their PIN at the kiosk.
 */
export async function atTheDoor(
  db: Db,
  request: {
    kioskId: number
    kioskName: string
    personId: number
    now: number
    context: RequestContext
    method: 'door-code' | 'pin'
    /** Force a direction (the door page's button); otherwise the opposite of the current state. */
    action?: 'sign-in' | 'sign-out'
  },
  site: RegisterSite,
): Promise<TapResult> {
  const before = await presenceOf(db, request.personId, request.now, site)
  if (request.action === undefined) {
    const repeat = await repeatedToggle(db, request.personId, before, request.now, site)
    if (repeat) return repeat
  }
  const action = request.action ?? (before.state === 'in' ? 'sign-out' : 'sign-in')
  const tap = {
    personId: request.personId,
    now: request.now,
    context: request.context,
    via: request.method === 'pin' ? `kiosk-pin:${request.kioskName}` : `door-code:${request.kioskName}`,
  }
  const result = action === 'sign-in' ? await signIn(db, tap, site) : await signOut(db, tap, site)
  const visit = action === 'sign-in' ? result.presence : before
  if (result.changed && visit.state !== 'out') {
    await insertVisitAtDoor(db, {
      visitId: visit.visit.id,
      kioskId: request.kioskId,
      action: action === 'sign-in' ? 'signed-in' : 'signed-out',
      method: request.method,
      at: request.now,
    })
  }
  return result
}

/** How soon after a change a toggle counts as the same press again, not a change of mind. */
export const REPEAT_TOGGLE_MS = 10_000

/**
 * A toggle (the PIN: in if out, out if in) that comes within REPEAT_TOGGLE_MS of the person's last
 * sign-in or sign-out is that press again (a double Enter, a resend), not a change of mind: undoing
 * it would take someone who has just come in off the fire list. Nothing changes, and the answer says
 * how to change it on purpose.
 */
async function repeatedToggle(
  db: Db,
  personId: number,
  before: Presence,
  now: number,
  site: RegisterSite,
): Promise<TapResult | undefined> {
  const recent = (at: number) => at <= now && now - at < REPEAT_TOGGLE_MS
  const wait = `wait ${REPEAT_TOGGLE_MS / 1000} seconds and enter your PIN again`
  if (before.state === 'in') {
    const at = before.visit.signed_in_at
    if (!recent(at)) return undefined
    return {
      changed: false,
      presence: before,
      message: `You signed in at ${formatTime(at, site.timeZone)}, a moment ago, so you are still signed in. To sign out, ${wait}.`,
    }
  }
  if (before.state !== 'out') return undefined
  const at = (await findLatestVisit(db, personId))?.signed_out_at
  if (at === null || at === undefined || !recent(at)) return undefined
  return {
    changed: false,
    presence: before,
    message: `You signed out at ${formatTime(at, site.timeZone)}, a moment ago, so you are still signed out. To sign in, ${wait}.`,
  }
}
