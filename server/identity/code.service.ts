import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { CodePurpose, Person } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { TooManyRequestsError, UserError } from '../lib/errors.js'
import type { Clock } from '../lib/site-time.js'
import { DeliveryError } from '../messaging/channel.js'
import type { Messenger } from '../messaging/messenger.js'
import {
  adminContactsForAlerts,
  type CodeCount,
  claimBudgetAlert,
  consumeCode,
  findLiveCode,
  findNewestCode,
  newestCodeTimes,
  recordWrongAttempt,
  replaceCode,
} from './code.repository.js'
import { checkTextDestination } from './code-destination.js'
import { maskContact, type NormalisedContact, parseContact } from './contact.js'
import { findContactByValue, insertContact } from './contact.repository.js'
import { NameError, parseName } from './person.js'
import { findPersonById, insertPerson } from './person.repository.js'
import { applyAdminContacts } from './roles.service.js'
import { hashCode, newCode, sameHash } from './secrets.js'

/** How long a code stays valid. */
export const CODE_TTL_MS = 10 * 60_000
/** Wrong guesses allowed per code; the code is dead after the last one. */
export const MAX_CODE_ATTEMPTS = 5
/** Codes one contact may request per window (so nobody runs up an SMS bill on someone's phone). */
export const CONTACT_CODE_LIMIT = { max: 3, windowMs: 10 * 60_000 }
/**
 * Codes one IP address may request per window for contacts nobody has verified yet. A whole office
 * behind one address onboards on roll-out day (200 people in 15 minutes fit); people already
 * known are held only by their own per-contact limit. What protects the SMS bill is the per-contact
 * limit, the destination rules and the site-wide hourly budget (docs/messaging.md).
 */
export const IP_UNKNOWN_CODE_LIMIT = { max: 300, windowMs: 60 * 60_000 }
/** The window of the site-wide budget of texted codes (SMS_CODES_PER_HOUR). */
const TEXT_BUDGET_WINDOW_MS = 60 * 60_000

/** What the identity functions need from the app. */
export interface IdentityDeps {
  db: Db
  codeKey: Buffer
  messenger: Messenger
  clock: Clock
  defaultRegion: string
  /** ADMIN_CONTACTS: canonical contacts that become admin when first verified. */
  adminContacts?: readonly string[]
  /** SMS_ALLOWED_COUNTRIES: where codes may be texted (default: the default region only). */
  smsAllowedCountries?: readonly string[]
  /** SMS_CODES_PER_HOUR: codes texted site-wide per hour before texts to unknown numbers pause. */
  smsCodesPerHour?: number
}

/** Reads a contact or throws a 400 with the reason. */
export function requireContact(input: unknown, defaultRegion: string): NormalisedContact {
  const parsed = parseContact(typeof input === 'string' ? input : '', defaultRegion)
  if (!parsed.ok) throw new UserError(400, parsed.message)
  return parsed.contact
}

/** Throws a 429 when `max` codes of a kind were requested within the window. */
async function rateLimit(
  db: Db,
  by: CodeCount,
  limit: { max: number; windowMs: number },
  now: number,
  what: string,
): Promise<number> {
  const times = await newestCodeTimes(db, by, now - limit.windowMs, limit.max)
  if (times.length < limit.max) return times.length
  // The limit frees up when the oldest code counted leaves the window.
  throw new TooManyRequestsError(what, times[limit.max - 1]! + limit.windowMs - now)
}

/**
 * The site-wide hourly budget of texted codes ran out: tell the admins, once per hour across every
 * process (only the request that claims the hour waits for the messages).
 */
async function alertAdminsOfBudget(
  deps: IdentityDeps,
  now: number,
  perHour: number,
  context: RequestContext,
): Promise<void> {
  const { db, messenger } = deps
  const hourStart = Math.floor(now / TEXT_BUDGET_WINDOW_MS) * TEXT_BUDGET_WINDOW_MS
  await (async () => {
    if (!(await claimBudgetAlert(db, { hourStart, at: now, codesSent: perHour }))) return
    await recordAudit(db, {
      at: now,
      personId: null,
      action: 'code.text-budget-reached',
      context,
      detail: { perHour },
    })
    const told = new Set<number>()
    for (const contact of await adminContactsForAlerts(db)) {
      if (told.has(contact.person_id) || !messenger.kinds.includes(contact.kind)) continue
      told.add(contact.person_id)
      await messenger.send(contact, 'sms-budget', { perHour }).catch(() => told.delete(contact.person_id))
    }
  })().catch(() => {
    // Best effort: the refusal itself is what protects the bill; a failed alert is in the message log.
  })
}

/**
 * Sends a fresh code to a contact, replacing any earlier one. Answers identically whether or not
 * the contact belongs to anybody. If the message cannot be sent, the code is killed at once.
 */
export async function requestCode(
  deps: IdentityDeps,
  request: { contact: unknown; purpose: CodePurpose; personId?: number; context: RequestContext },
): Promise<NormalisedContact> {
  const { db, clock } = deps
  const contact = requireContact(request.contact, deps.defaultRegion)
  if (!deps.messenger.kinds.includes(contact.kind)) {
    throw new UserError(
      400,
      contact.kind === 'phone'
        ? 'Use your email address: this site cannot send texts.'
        : 'Use your mobile number: this site cannot send emails.',
    )
  }
  checkTextDestination(contact, deps.smsAllowedCountries ?? [deps.defaultRegion])
  const now = clock.now()
  await rateLimit(
    db,
    { contactValue: contact.value },
    CONTACT_CODE_LIMIT,
    now,
    'Too many codes have been requested for this contact.',
  )
  const owner = await findContactByValue(db, contact.value)
  if (!owner) {
    await rateLimit(
      db,
      { unknownFromIp: request.context.ip },
      IP_UNKNOWN_CODE_LIMIT,
      now,
      'Too many codes have been requested from your network.',
    )
  }
  if (!owner && contact.kind === 'phone' && deps.smsCodesPerHour !== undefined) {
    const perHour = deps.smsCodesPerHour
    await rateLimit(
      db,
      { texts: true },
      { max: perHour, windowMs: TEXT_BUDGET_WINDOW_MS },
      now,
      'Texts to new numbers are paused: this site has sent as many codes as it allows in an hour. Use your email address, or ask reception.',
    ).catch(async (error: unknown) => {
      if (error instanceof TooManyRequestsError)
        await alertAdminsOfBudget(deps, now, perHour, request.context)
      throw error
    })
  }
  const code = newCode()
  const stored = await unitOfWork(db, async (trx) => {
    const row = await replaceCode(trx, {
      contactValue: contact.value,
      purpose: request.purpose,
      personId: request.personId ?? null,
      codeHash: hashCode(deps.codeKey, contact.value, code),
      expiresAt: now + CODE_TTL_MS,
      at: now,
      ip: request.context.ip,
    })
    await recordAudit(trx, {
      at: now,
      personId: request.personId ?? owner?.person_id ?? null,
      action: 'code.requested',
      context: request.context,
      detail: { contact: maskContact(contact.value), purpose: request.purpose },
    })
    return row
  })
  try {
    await deps.messenger.send(contact, request.purpose === 'login' ? 'login-code' : 'add-contact-code', {
      code,
    })
  } catch (error) {
    // A code the person never received must not stay usable.
    await consumeCode(db, stored.id, clock.now())
    if (error instanceof DeliveryError) throw new UserError(error.permanent ? 422 : 503, error.message)
    throw error
  }
  return contact
}

/** The result of a correct code. */
export interface VerifiedCode {
  contact: NormalisedContact
  person: Person
  created: boolean
}

/**
 * Checks a code. A correct code for an unknown contact needs a name: without one a NameError
 * (422) is thrown and the code stays usable. Wrong codes count towards the attempt limit.
 */
export async function verifyCode(
  deps: IdentityDeps,
  request: {
    contact: unknown
    code: unknown
    purpose: CodePurpose
    personId?: number
    firstName?: unknown
    lastName?: unknown
    context: RequestContext
  },
): Promise<VerifiedCode> {
  const { db, clock } = deps
  const contact = requireContact(request.contact, deps.defaultRegion)
  const code = typeof request.code === 'string' ? request.code.replace(/[\s-]/g, '') : ''
  if (!/^\d{6}$/.test(code)) throw new UserError(400, 'Enter the 6-digit code from your message.')
  const now = clock.now()
  const live = await findLiveCode(db, contact.value, request.purpose)
  const expired = new UserError(401, 'That code has expired or was already used. Ask for a new code.')
  const tooManyTries = new UserError(
    429,
    'Too many wrong codes. That code no longer works: ask for a new one.',
  )
  if (!live) {
    // Say why there is no code: five wrong tries killed it, or it expired or was used.
    const newest = await findNewestCode(db, contact.value, request.purpose)
    throw newest && newest.attempts >= MAX_CODE_ATTEMPTS ? tooManyTries : expired
  }
  if (request.purpose === 'add-contact' && live.person_id !== request.personId) throw expired
  if (live.expires_at <= now) {
    await consumeCode(db, live.id, now)
    throw expired
  }
  if (!sameHash(live.code_hash, hashCode(deps.codeKey, contact.value, code))) {
    const attempts = await recordWrongAttempt(db, live.id)
    await recordAudit(db, {
      at: now,
      personId: request.personId ?? null,
      action: 'code.wrong',
      context: request.context,
      detail: { contact: maskContact(contact.value), attempts },
    })
    if (attempts >= MAX_CODE_ATTEMPTS) {
      await consumeCode(db, live.id, now)
      throw tooManyTries
    }
    const left = MAX_CODE_ATTEMPTS - attempts
    throw new UserError(401, `That code is not right. ${left} ${left === 1 ? 'try' : 'tries'} left.`)
  }

  const existing = await findContactByValue(db, contact.value)
  // Refusals after a correct code still use the code up: it was single use, and it was used.
  const refuse = async (error: UserError): Promise<never> => {
    await consumeCode(db, live.id, now)
    throw error
  }
  const audit = (trx: Db, personId: number, action: string) =>
    recordAudit(trx, {
      at: now,
      personId,
      action,
      context: request.context,
      detail: { contact: maskContact(contact.value) },
    })

  const promote = (trx: Db, person: Person) =>
    applyAdminContacts(trx, {
      person,
      contactValue: contact.value,
      adminContacts: deps.adminContacts ?? [],
      at: now,
      context: request.context,
    })

  if (request.purpose === 'add-contact') {
    const personId = request.personId!
    if (existing && existing.person_id !== personId) {
      await refuse(
        new UserError(409, 'That contact already belongs to another account. Ask an admin to merge the two.'),
      )
    }
    return unitOfWork(db, async (trx) => {
      if (!(await consumeCode(trx, live.id, now))) throw expired
      if (!existing) await insertContact(trx, { personId, kind: contact.kind, value: contact.value, at: now })
      await audit(trx, personId, 'contact.added')
      return { contact, person: (await findPersonById(trx, personId))!, created: false }
    })
  }

  if (existing) {
    const person = (await findPersonById(db, existing.person_id))!
    if (person.deactivated_at !== null) {
      await refuse(new UserError(403, 'This account has been deactivated. Please speak to reception.'))
    }
    return unitOfWork(db, async (trx) => {
      if (!(await consumeCode(trx, live.id, now))) throw expired
      await audit(trx, person.id, 'code.verified')
      return { contact, person: await promote(trx, person), created: false }
    })
  }

  const name = parseName(request.firstName, request.lastName)
  if (!name.ok) {
    const given = request.firstName !== undefined || request.lastName !== undefined
    throw new NameError(
      given ? name.errors : {},
      given ? 'Please check your name.' : 'Welcome! Tell us your name to finish.',
    )
  }
  return unitOfWork(db, async (trx) => {
    if (!(await consumeCode(trx, live.id, now))) throw expired
    const person = await insertPerson(trx, {
      first_name: name.firstName,
      last_name: name.lastName,
      created_at: now,
      updated_at: now,
      deactivated_at: null,
    })
    await insertContact(trx, { personId: person.id, kind: contact.kind, value: contact.value, at: now })
    await audit(trx, person.id, 'person.created')
    return { contact, person: await promote(trx, person), created: true }
  })
}
