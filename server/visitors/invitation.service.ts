import { createHmac } from 'node:crypto'
import type { RequestContext } from '../audit/audit.repository.js'
import type { Config } from '../config.js'
import type { Db } from '../db/connect.js'
import type { Person, Visitor } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { newestCodeTimes } from '../identity/code.repository.js'
import { textDestinationProblem } from '../identity/code-destination.js'
import { parseContact } from '../identity/contact.js'
import { hashToken, looksLikeToken, newToken } from '../identity/secrets.js'
import { canonicalPairingCode, newPairingCode } from '../kiosk/kiosk.service.js'
import { UserError } from '../lib/errors.js'
import { type Clock, localDay, startOfLocalDay } from '../lib/site-time.js'
import { DeliveryError } from '../messaging/channel.js'
import type { Messenger } from '../messaging/messenger.js'
import { recordVisitorArrival } from './host-notice.service.js'
import {
  cancelInvitation,
  countInvitationTextsSince,
  findInvitedVisitor,
  type InvitedVisitor,
  insertInvitation,
  listExpectedOn,
  listInvitationsOfHost,
  markInvitationSent,
  replaceInvitationSecrets,
  setInvitationTime,
  updateInvitedVisitor,
} from './invitation.repository.js'
import { deleteVisitorNotArrived, insertVisitor, markVisitorArrived } from './visitor.repository.js'
import {
  auditVisitor,
  putOnRunningRollCall,
  VisitorFormError,
  type VisitorSource,
} from './visitor.service.js'

/** How far ahead a host may invite someone. */
const MAX_DAYS_AHEAD = 366
const HOUR_MS = 60 * 60_000

/** What pre-registration needs from a process: the database, the channels, the key and the settings. */
export interface InvitationDeps {
  db: Db
  messenger: Messenger
  clock: Clock
  /** The key that hashes the short codes typed at the kiosk. */
  codeKey: Buffer
  config: Pick<
    Config,
    | 'TIME_ZONE'
    | 'DEFAULT_PHONE_REGION'
    | 'PUBLIC_URL'
    | 'SMS_ALLOWED_COUNTRIES'
    | 'SMS_CODES_PER_HOUR'
    | 'SITE_NAME'
  >
}

/** The pre-registration needs of a process's context. */
export function invitationDeps(ctx: {
  db: Db
  messenger: Messenger
  clock: Clock
  config: Config
  keys: { kiosk: Buffer }
}): InvitationDeps {
  return {
    db: ctx.db,
    messenger: ctx.messenger,
    clock: ctx.clock,
    codeKey: ctx.keys.kiosk,
    config: ctx.config,
  }
}

/** What a host types to pre-register a visitor; every field as it arrived. */
export interface InvitationInput {
  name?: string
  company?: string
  /** The local day, yyyy-mm-dd. */
  day?: string
  /** The local time, HH:mm (optional). */
  time?: string
  /** The visitor's email address or mobile number. */
  contact?: string
}

/** Where an invitation stands at an instant. */
export type InvitationState = 'cancelled' | 'used' | 'early' | 'today' | 'past'

const text = (value: string | undefined) => (value ?? '').normalize('NFC').trim().replace(/\s+/g, ' ')

function hashInvitationCode(key: Buffer, code: string): string {
  return createHmac('sha256', key)
    .update(`visitor-invitation:${canonicalPairingCode(code)}`)
    .digest('base64url')
}

/** "Tuesday 24 November 2026" for a local day: an invitation may be weeks ahead. */
export function dayLabel(day: string, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    year: 'numeric',
    timeZone,
  }).format(startOfLocalDay(day, timeZone))
}

/** The invitation's state now: its day in the site's time zone decides. */
export function invitationState(visitor: InvitedVisitor, now: number, timeZone: string): InvitationState {
  if (visitor.invitation.cancelled_at !== null) return 'cancelled'
  if (visitor.signed_in_at !== null) return 'used'
  const today = localDay(now, timeZone)
  const day = visitor.expected_day ?? ''
  if (day > today) return 'early'
  return day === today ? 'today' : 'past'
}

/** The absolute check-in link for a token. */
export function invitationLink(publicUrl: string, token: string): string {
  return `${publicUrl}/i/${token}`
}

/** Checks a host's form; throws VisitorFormError with a message per field. */
async function readInvitationInput(
  deps: InvitationDeps,
  input: InvitationInput,
): Promise<{
  name: string
  company: string
  day: string
  time: string | null
  phone: string | null
  email: string | null
}> {
  const { config } = deps
  const now = deps.clock.now()
  const errors: Record<string, string> = {}
  const name = text(input.name)
  if (!/\p{L}/u.test(name)) errors.name = 'Enter the visitor’s full name.'
  else if (name.length > 100) errors.name = 'Keep the name under 100 characters.'
  const company = text(input.company)
  if (company.length > 100) errors.company = 'Keep the company under 100 characters.'

  const today = localDay(now, config.TIME_ZONE)
  const day = text(input.day)
  const last = localDay(now + MAX_DAYS_AHEAD * 24 * HOUR_MS, config.TIME_ZONE)
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T12:00:00Z`)))
    errors.day = 'Pick the day of the visit.'
  else if (day < today) errors.day = 'That day has passed: pick today or a later day.'
  else if (day > last) errors.day = 'Pick a day within the next year.'

  const time = text(input.time)
  if (time !== '' && !/^([01]\d|2[0-3]):[0-5]\d$/.test(time))
    errors.time = 'Give the time as 09:30, or leave it empty.'

  let phone: string | null = null
  let email: string | null = null
  const parsed = parseContact(text(input.contact), config.DEFAULT_PHONE_REGION)
  if (!parsed.ok) {
    errors.contact =
      text(input.contact) === ''
        ? 'Enter the visitor’s email address or mobile number: the invitation goes there.'
        : parsed.message
  } else if (!deps.messenger.kinds.includes(parsed.contact.kind)) {
    errors.contact =
      parsed.contact.kind === 'phone'
        ? 'This site cannot send texts: enter the visitor’s email address.'
        : 'This site cannot send emails: enter the visitor’s mobile number.'
  } else {
    const problem = textDestinationProblem(parsed.contact, config.SMS_ALLOWED_COUNTRIES)
    if (problem?.problem === 'country')
      errors.contact = `Invitations are texted only to mobile numbers in ${problem.countries}. Enter the visitor’s email address instead.`
    else if (problem?.problem === 'type')
      errors.contact = 'That number cannot receive our texts. Enter a mobile number or an email address.'
    else if (parsed.contact.kind === 'phone') phone = parsed.contact.value
    else email = parsed.contact.value
  }
  if (Object.keys(errors).length > 0) throw new VisitorFormError(errors)

  if (phone !== null) {
    // Invitation texts share the site's hourly SMS budget with texted codes.
    const since = now - HOUR_MS
    const budget = config.SMS_CODES_PER_HOUR
    const used =
      (await countInvitationTextsSince(deps.db, since)) +
      (await newestCodeTimes(deps.db, { texts: true }, since, budget)).length
    if (used >= budget)
      throw new VisitorFormError({
        contact:
          'Texts are paused for now: this site has sent as many as it allows in an hour. Enter the visitor’s email address, or try again later.',
      })
  }
  return { name, company, day, time: time === '' ? null : time, phone, email }
}

/** A fresh link token and kiosk code, and their hashes. */
function newSecrets(key: Buffer) {
  const token = newToken()
  const code = newPairingCode()
  return { token, code, tokenHash: hashToken(token), codeHash: hashInvitationCode(key, code) }
}

/** Sends the invitation with its link, QR code and kiosk code; throws a form error if it cannot go. */
async function sendInvitation(
  deps: InvitationDeps,
  visitor: Visitor,
  host: Person,
  secrets: { token: string; code: string },
  time: string | null,
): Promise<string> {
  const to = visitor.phone
    ? ({ kind: 'phone', value: visitor.phone } as const)
    : ({ kind: 'email', value: visitor.email! } as const)
  const link = invitationLink(deps.config.PUBLIC_URL, secrets.token)
  try {
    const sent = await deps.messenger.send(to, 'visitor-invitation', {
      visitorName: visitor.name,
      hostName: `${host.first_name} ${host.last_name}`,
      day: dayLabel(visitor.expected_day!, deps.config.TIME_ZONE),
      time,
      link,
      qrUrl: `${link}/qr.png`,
      code: secrets.code,
    })
    return sent.channel
  } catch (error) {
    if (!(error instanceof DeliveryError)) throw error
    throw new VisitorFormError({
      contact: error.permanent
        ? `The invitation could not be sent there: ${error.message}`
        : 'The invitation could not be sent just now. Please try again in a minute.',
    })
  }
}

/**
 * A host pre-registers a visitor: stored, audited, and the invitation sent (email or SMS) with a
 * one-time link and a kiosk code. If the invitation cannot be sent, nothing is kept.
 */
export async function preRegisterVisitor(
  deps: InvitationDeps,
  request: { host: Person; input: InvitationInput; context: RequestContext },
): Promise<InvitedVisitor> {
  const { db } = deps
  const clean = await readInvitationInput(deps, request.input)
  const now = deps.clock.now()
  const secrets = newSecrets(deps.codeKey)
  const source = hostSource(request.host, request.context)
  const visitor = await unitOfWork(db, async (trx) => {
    const row = (await insertVisitor(trx, {
      name: clean.name,
      company: clean.company,
      host_person_id: request.host.id,
      host_text: null,
      phone: clean.phone,
      email: clean.email,
      notice_id: null,
      notice_accepted_at: null,
      expected_day: clean.day,
      invited_by: request.host.id,
      kiosk_id: null,
      signed_in_via: null,
      signed_in_at: null,
      signed_out_at: null,
      closed_by: null,
      client_key: null,
      host_notified_at: null,
      reminded_at: null,
      photo: null,
      created_at: now,
    }))!
    await insertInvitation(trx, {
      visitorId: row.id,
      tokenHash: secrets.tokenHash,
      codeHash: secrets.codeHash,
      expectedTime: clean.time,
      at: now,
    })
    await auditVisitor(trx, row, source, now, 'visitor.pre-registered', { day: clean.day })
    return row
  })
  try {
    const channel = await sendInvitation(deps, visitor, request.host, secrets, clean.time)
    await markInvitationSent(db, visitor.id, deps.clock.now())
    await auditVisitor(db, visitor, source, deps.clock.now(), 'visitor.invitation-sent', { channel })
  } catch (error) {
    // An invitation nobody received must not stay usable, nor keep the visitor's details (unless
    // they arrived meanwhile: reception checked them in from the expected list).
    await deleteVisitorNotArrived(db, visitor.id)
    throw error
  }
  return (await findInvitedVisitor(db, { id: visitor.id }))!
}

function hostSource(host: Person, context: RequestContext): VisitorSource {
  return { via: 'invite', kiosk: null, personId: host.id, context }
}

/** The host's own pre-registration, still open to change; 404 for anyone else's. */
async function ownInvitation(db: Db, host: Person, visitorId: number): Promise<InvitedVisitor> {
  const visitor = await findInvitedVisitor(db, { id: visitorId })
  if (!visitor || visitor.host_person_id !== host.id)
    throw new UserError(404, 'There is no such invitation of yours.')
  return visitor
}

/** The host's pre-registration for its edit form; refused once used or cancelled. */
export async function invitationToEdit(
  deps: InvitationDeps,
  host: Person,
  visitorId: number,
): Promise<InvitedVisitor> {
  const visitor = await ownInvitation(deps.db, host, visitorId)
  const state = invitationState(visitor, deps.clock.now(), deps.config.TIME_ZONE)
  if (state === 'used')
    throw new UserError(409, `${visitor.name} has already arrived: there is nothing to change.`)
  if (state === 'cancelled')
    throw new UserError(409, 'That invitation was cancelled. Invite the visitor again.')
  if (state === 'past') throw new UserError(409, 'That visit’s day has passed. Invite the visitor again.')
  return visitor
}

/**
 * The host changes a pre-registration. A new day or contact sends a new invitation (the old link
 * and code stop working); a new name, company or time keeps it.
 */
export async function editInvitation(
  deps: InvitationDeps,
  request: { host: Person; visitorId: number; input: InvitationInput; context: RequestContext },
): Promise<{ visitor: InvitedVisitor; resent: boolean }> {
  const { db } = deps
  const before = await invitationToEdit(deps, request.host, request.visitorId)
  const clean = await readInvitationInput(deps, request.input)
  const resend =
    clean.day !== before.expected_day || clean.phone !== before.phone || clean.email !== before.email
  const now = deps.clock.now()
  const source = hostSource(request.host, request.context)
  const secrets = newSecrets(deps.codeKey)
  if (resend) {
    // Sent first: if it cannot go, the visitor still has the invitation they had.
    await sendInvitation(
      deps,
      { ...before, phone: clean.phone, email: clean.email, name: clean.name, expected_day: clean.day },
      request.host,
      secrets,
      clean.time,
    )
  }
  await unitOfWork(db, async (trx) => {
    await updateInvitedVisitor(trx, before.id, {
      name: clean.name,
      company: clean.company,
      phone: clean.phone,
      email: clean.email,
      expectedDay: clean.day,
    })
    await setInvitationTime(trx, before.id, clean.time)
    if (resend) {
      await replaceInvitationSecrets(trx, before.id, secrets)
      await markInvitationSent(trx, before.id, now)
    }
    await auditVisitor(trx, before, source, now, 'visitor.invitation-edited', {
      day: clean.day,
      resent: resend,
    })
  })
  return { visitor: (await findInvitedVisitor(db, { id: before.id }))!, resent: resend }
}

/** The host cancels a pre-registration: its link and code stop working at once. */
export async function cancelOwnInvitation(
  deps: InvitationDeps,
  request: { host: Person; visitorId: number; context: RequestContext },
): Promise<InvitedVisitor> {
  const visitor = await ownInvitation(deps.db, request.host, request.visitorId)
  const now = deps.clock.now()
  await unitOfWork(deps.db, async (trx) => {
    if (!(await cancelInvitation(trx, visitor.id, now)))
      throw new UserError(
        409,
        visitor.signed_in_at !== null
          ? `${visitor.name} has already arrived.`
          : 'That invitation was already cancelled.',
      )
    await auditVisitor(
      trx,
      visitor,
      hostSource(request.host, request.context),
      now,
      'visitor.invitation-cancelled',
    )
  })
  return visitor
}

/** A host's pre-registrations from today on. */
export async function upcomingInvitations(deps: InvitationDeps, host: Person): Promise<InvitedVisitor[]> {
  return listInvitationsOfHost(deps.db, host.id, localDay(deps.clock.now(), deps.config.TIME_ZONE))
}

/** Everyone expected today who has not arrived: reception's "expected" list. */
export async function expectedToday(
  deps: Pick<InvitationDeps, 'db' | 'clock' | 'config'>,
): Promise<InvitedVisitor[]> {
  return listExpectedOn(deps.db, localDay(deps.clock.now(), deps.config.TIME_ZONE))
}

/** Reception's one-tap check-in: the visitor expected under that number, or a 404 saying so. */
export async function expectedVisitor(db: Db, visitorId: number): Promise<InvitedVisitor> {
  const visitor = await findInvitedVisitor(db, { id: visitorId })
  if (!visitor) throw new UserError(404, 'Nobody is expected under that number.')
  return visitor
}

/** The pre-registration a link token opens; undefined for junk and unknown tokens. */
export async function invitationByToken(db: Db, token: string): Promise<InvitedVisitor | undefined> {
  if (!looksLikeToken(token)) return undefined
  return findInvitedVisitor(db, { tokenHash: hashToken(token) })
}

/**
 * The pre-registration a kiosk read (the QR code's link) or was typed (the short code); a 404 with
 * a message for the screen when it is none of ours.
 */
export async function invitationForKiosk(
  deps: Pick<InvitationDeps, 'db' | 'codeKey'>,
  presented: { link?: string; code?: string },
): Promise<InvitedVisitor> {
  let visitor: InvitedVisitor | undefined
  if (presented.link !== undefined) {
    const token = /\/i\/([A-Za-z0-9_-]+)\/?\s*$/.exec(presented.link)?.[1] ?? presented.link.trim()
    visitor = await invitationByToken(deps.db, token)
  } else if (presented.code !== undefined && canonicalPairingCode(presented.code)) {
    visitor = await findInvitedVisitor(deps.db, {
      codeHash: hashInvitationCode(deps.codeKey, presented.code),
    })
  }
  if (!visitor)
    throw new UserError(
      404,
      'That is not an invitation to this building. Check the code, or sign in as a visitor.',
    )
  return visitor
}

/** Refuses an invitation that cannot check anyone in now, with a message for the visitor. */
export function requireUsableToday(visitor: InvitedVisitor, now: number, timeZone: string): void {
  const state = invitationState(visitor, now, timeZone)
  const day = dayLabel(visitor.expected_day!, timeZone)
  if (state === 'cancelled')
    throw new UserError(
      410,
      'This invitation was cancelled by your host. Please sign in as a visitor at the entrance.',
    )
  if (state === 'used') throw new UserError(409, 'This invitation has already been used to sign in.')
  if (state === 'early') throw new UserError(403, `This invitation is for ${day}. It works on that day only.`)
  if (state === 'past')
    throw new UserError(
      410,
      `This invitation was for ${day} and has expired. Please sign in as a visitor at the entrance.`,
    )
}

/**
 * Signs a pre-registered visitor in on their day, once: by their link, at a kiosk, or by
 * reception. A second try (a replayed link, a double tap) is refused; audited with who did it.
 */
export async function checkInInvitation(
  db: Db,
  request: { visitor: InvitedVisitor; now: number; timeZone: string; source: VisitorSource },
): Promise<Visitor> {
  const { visitor, source, now } = request
  requireUsableToday(visitor, now, request.timeZone)
  return unitOfWork(db, async (trx) => {
    const arrived = await markVisitorArrived(trx, visitor.id, {
      at: now,
      kioskId: source.kiosk?.id ?? null,
      via: source.via,
    })
    if (!arrived) throw new UserError(409, 'This invitation has already been used to sign in.')
    await auditVisitor(trx, arrived, source, now, 'visitor.signed-in', { at: now, invitation: true })
    // The host notice (and the chat post) go out from the outbox, committed with the check-in.
    await recordVisitorArrival(trx, arrived.id, now, now)
    await putOnRunningRollCall(trx, arrived)
    return arrived
  })
}
