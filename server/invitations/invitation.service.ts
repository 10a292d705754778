import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { AppContext } from '../context.js'
import type { Db } from '../db/connect.js'
import type { ContactKind, Invitation, Person } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { checkTextDestination } from '../identity/code-destination.js'
import { displayContact, maskContact, type NormalisedContact, parseContact } from '../identity/contact.js'
import { findContactByValue, insertContact } from '../identity/contact.repository.js'
import { issueDevice } from '../identity/device.service.js'
import { parseName } from '../identity/person.js'
import { findPersonById, insertPerson } from '../identity/person.repository.js'
import { applyAdminContacts } from '../identity/roles.service.js'
import { hashToken, looksLikeToken, newToken } from '../identity/secrets.js'
import { UserError } from '../lib/errors.js'
import { type Clock, formatDateTime, formatDay } from '../lib/site-time.js'
import type { Messenger } from '../messaging/messenger.js'
import {
  claimInvitation,
  countInvitationsByStatus,
  countTextInvitationsSince,
  findContactOwners,
  findInvitation,
  findInvitationByTokenHash,
  findLiveInvitations,
  finishInvitationSend,
  insertInvitations,
  listInvitations,
  listInvitationsToSend,
  markInvitationRevoked,
  markInvitationUsed,
  tryLockInvitationImports,
} from './invitation.repository.js'
import { type CsvPerson, readInvitationCsv } from './invitation-csv.js'

const DAY_MS = 24 * 60 * 60_000
/** A sender that claimed an invitation this long ago and never finished has died: send it again. */
export const STALE_CLAIM_MS = 5 * 60_000

/** What invitations need from the app. */
export interface InvitationDeps {
  db: Db
  messenger: Messenger
  clock: Clock
  defaultRegion: string
  /** SMS_ALLOWED_COUNTRIES: the same destinations as codes. */
  smsAllowedCountries: readonly string[]
  publicUrl: string
  timeZone: string
  /** INVITATION_DAYS: how long a link works. */
  days: number
  /** INVITATION_TEXTS_PER_DAY: invitations texted site-wide per 24 hours, at most. */
  textsPerDay: number
  /** ADMIN_CONTACTS: an invitation verifies a contact as a code does. */
  adminContacts?: readonly string[]
}

/** Which contact an invitation goes to when a row has both. */
export type SendBy = 'phone' | 'email'

/** One CSV row as checked: who, where the link would go, and what is wrong with it. */
export interface ImportRow {
  line: number
  firstName: string
  lastName: string
  phone: string
  email: string
  /** Where the invitation goes, when the row is good. */
  sendTo?: NormalisedContact
  /** The person who already has one of the row's contacts. */
  existing?: { id: number; name: string }
  problems: string[]
  notes: string[]
}

/** The check of a whole import: every row, and a problem with the import as a whole if any. */
export interface ImportReport {
  rows: ImportRow[]
  /** Rows with at least one problem. */
  problemRows: number
  /** What stops the whole import (unreadable CSV, the daily ceiling), if anything. */
  message?: string
  /** The status to answer with when the import cannot go ahead. */
  status?: number
  ignoredColumns: string[]
  texts: number
  emails: number
}

/** An import that could not go ahead: nothing was saved; the report says why, row by row. */
export class ImportRefused extends UserError {
  constructor(readonly report: ImportReport) {
    super(
      report.status ?? 422,
      report.message ?? `${report.problemRows} of the rows need fixing. Nothing was sent.`,
    )
  }
}

/** The report of an import refused before any row was read. */
const refusedWhole = (message: string, status: number): ImportReport => ({
  rows: [],
  problemRows: 0,
  message,
  status,
  ignoredColumns: [],
  texts: 0,
  emails: 0,
})

/** Why an import sent while another is being saved is refused. */
const ANOTHER_IMPORT =
  'Another import is running; try again in a moment. Nothing was sent: your list is still here.'

/** "Alice", "ALICE ", "Alíce" read the same when matching names against people already here. */
const nameKey = (first: string, last: string) =>
  `${first} ${last}`.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim()

const nameProblem = (message: string | undefined) =>
  message?.replace(/^Enter your /, 'Missing ').replace(/^Your /, 'The ')

/** Reads and checks an import without saving anything. */
async function checkRows(deps: InvitationDeps, db: Db, csv: string, sendBy: SendBy): Promise<ImportReport> {
  const read = readInvitationCsv(csv)
  if (!read.ok) return refusedWhole(read.message, 422)
  const kinds = deps.messenger.kinds
  const now = deps.clock.now()

  const rows: (ImportRow & { contacts: NormalisedContact[] })[] = read.people.map((p: CsvPerson) => {
    const row: ImportRow & { contacts: NormalisedContact[] } = {
      ...p,
      problems: [],
      notes: [],
      contacts: [],
    }
    const name = parseName(p.firstName, p.lastName)
    if (!name.ok) {
      for (const message of [name.errors.firstName, name.errors.lastName]) {
        const problem = nameProblem(message)
        if (problem) row.problems.push(problem)
      }
    } else {
      row.firstName = name.firstName
      row.lastName = name.lastName
    }
    let phone: NormalisedContact | undefined
    let email: NormalisedContact | undefined
    let phoneRefusal: string | undefined
    if (p.phone !== '') {
      const parsed = p.phone.includes('@') ? undefined : parseContact(p.phone, deps.defaultRegion)
      if (!parsed?.ok) {
        row.problems.push(
          `Bad phone number “${p.phone}”: ${parsed && !parsed.ok ? parsed.message : 'that is an email address.'}`,
        )
      } else {
        phone = parsed.contact
        row.contacts.push(phone)
        try {
          if (!kinds.includes('phone')) throw new UserError(400, 'this site cannot send texts.')
          checkTextDestination(phone, deps.smsAllowedCountries)
        } catch (error) {
          if (!(error instanceof UserError)) throw error
          phoneRefusal = `We cannot text ${displayContact(phone)}: ${error.message.replace(/ Use your.*$/, '').replace(/ Use your email.*$/, '')}`
        }
      }
    }
    if (p.email !== '') {
      const parsed = parseContact(p.email, deps.defaultRegion)
      if (!parsed.ok || parsed.contact.kind !== 'email') {
        row.problems.push(`Bad email address “${p.email}”.`)
      } else {
        email = parsed.contact
        row.contacts.push(email)
        if (!kinds.includes('email')) row.notes.push('This site cannot send emails.')
      }
    }
    if (p.phone === '' && p.email === '') row.problems.push('No phone number or email address.')
    const usable = [
      phone && !phoneRefusal ? phone : undefined,
      email && kinds.includes('email') ? email : undefined,
    ].filter((c): c is NormalisedContact => c !== undefined)
    usable.sort((a, b) => (a.kind === sendBy ? -1 : b.kind === sendBy ? 1 : 0))
    row.sendTo = usable[0]
    if (phoneRefusal) {
      if (row.sendTo) row.notes.push(`${phoneRefusal} The invitation goes by email.`)
      else row.problems.push(`${phoneRefusal} Add an email address for this person.`)
    } else if ((phone || email) && !row.sendTo && row.problems.length === 0) {
      row.problems.push(
        'This site cannot send to that contact: add a phone number or email address it can reach.',
      )
    }
    return row
  })

  // The same contact twice in the list.
  const firstLine = new Map<string, number>()
  for (const row of rows) {
    for (const contact of row.contacts) {
      const earlier = firstLine.get(contact.value)
      if (earlier !== undefined) {
        row.problems.push(
          `Duplicate: line ${earlier} has the same ${contact.kind === 'phone' ? 'phone number' : 'email address'}.`,
        )
      } else firstLine.set(contact.value, row.line)
    }
  }

  // People already here, found by a verified contact.
  const values = rows.flatMap((r) => r.contacts.map((c) => c.value))
  const owners = await findContactOwners(db, values)
  for (const row of rows) {
    const found = row.contacts
      .map((c) => ({ contact: c, owner: owners.get(c.value) }))
      .filter((f) => f.owner !== undefined)
    const people = new Map(found.map((f) => [f.owner!.person_id, f]))
    if (people.size > 1) {
      row.problems.push(
        `The contacts belong to two different people: ${[...people.values()].map((f) => `${displayContact(f.contact)} to ${f.owner!.first_name} ${f.owner!.last_name}`).join(', ')}.`,
      )
      continue
    }
    const only = found[0]
    if (!only) continue
    const owner = only.owner!
    const ownerName = `${owner.first_name} ${owner.last_name}`
    if (owner.erased_at !== null || owner.deactivated_at !== null) {
      row.problems.push(
        `${displayContact(only.contact)} belongs to ${ownerName}, whose account is deactivated.`,
      )
    } else if (
      row.problems.length === 0 &&
      nameKey(owner.first_name, owner.last_name) !== nameKey(row.firstName, row.lastName)
    ) {
      row.problems.push(
        `${displayContact(only.contact)} already belongs to someone else: ${ownerName}. Use that name to invite them, or correct the contact.`,
      )
    } else {
      row.existing = { id: owner.person_id, name: ownerName }
      row.notes.push(`Already registered as ${ownerName}: the link signs them in on their phone.`)
    }
  }

  // Invitations already on their way or waiting to be used.
  const live = await findLiveInvitations(db, values, now)
  const liveByValue = new Map(live.map((l) => [l.contact_value, l]))
  for (const row of rows) {
    for (const contact of row.contacts) {
      const earlier = liveByValue.get(contact.value)
      if (earlier) {
        row.problems.push(
          `Duplicate: ${displayContact(contact)} was already invited on ${formatDateTime(earlier.created_at, deps.timeZone)}. Revoke that invitation first to send a new one.`,
        )
      }
    }
  }

  const good = rows.filter((r) => r.problems.length === 0)
  const texts = good.filter((r) => r.sendTo?.kind === 'phone').length
  const report: ImportReport = {
    rows: rows.map(({ contacts: _contacts, ...row }) => row),
    problemRows: rows.length - good.length,
    ignoredColumns: read.ignoredColumns,
    texts,
    emails: good.length - texts,
  }
  if (report.problemRows > 0) return report
  const textedToday = await countTextInvitationsSince(db, now - DAY_MS)
  if (texts > 0 && textedToday + texts > deps.textsPerDay) {
    report.status = 429
    report.message =
      `This import would text ${texts} numbers, but the site texts at most ${deps.textsPerDay} invitations in 24 hours ` +
      `and ${textedToday} have been texted already. Send some by email, import the rest tomorrow, or raise INVITATION_TEXTS_PER_DAY.`
  }
  return report
}

/** Checks an import and saves nothing: what the admin sees before sending. */
export async function checkImport(
  deps: InvitationDeps,
  input: { csv: string; sendBy: SendBy },
): Promise<ImportReport> {
  return checkRows(deps, deps.db, input.csv, input.sendBy)
}

/** Who acts on invitations, as the audit trail records them. */
export interface InvitationActor {
  personId: number | null
  at: number
  context: RequestContext
}

/**
 * Saves one invitation per row, all or none: any problem in any row (or the daily ceiling) refuses
 * the whole import with the report. Imports are saved one at a time (on PostgreSQL too, where
 * several processes write at once), so each is checked against every import before it: the same
 * list sent twice is refused as duplicates the second time, and the daily ceiling counts both. One
 * sent while another is being saved is refused at once (409, "try again in a moment"), never left
 * waiting for it. Sending happens afterwards, in `deliverInvitations`.
 */
export async function importInvitations(
  deps: InvitationDeps,
  actor: InvitationActor,
  input: { csv: string; sendBy: SendBy },
): Promise<{ report: ImportReport; invitations: Invitation[] }> {
  return unitOfWork(deps.db, async (trx) => {
    if (!(await tryLockInvitationImports(trx))) throw new ImportRefused(refusedWhole(ANOTHER_IMPORT, 409))
    const report = await checkRows(deps, trx, input.csv, input.sendBy)
    if (report.problemRows > 0 || report.message) throw new ImportRefused(report)
    const invitations = await insertInvitations(
      trx,
      report.rows.map((row) => ({
        person_id: row.existing?.id ?? null,
        first_name: row.firstName,
        last_name: row.lastName,
        contact_kind: row.sendTo!.kind,
        contact_value: row.sendTo!.value,
        token_hash: null,
        status: 'pending',
        error: null,
        message_id: null,
        created_by: actor.personId,
        created_at: actor.at,
        expires_at: actor.at + deps.days * DAY_MS,
        claimed_at: null,
        sent_at: null,
        used_at: null,
        revoked_at: null,
      })),
    )
    for (const invitation of invitations) {
      await recordAudit(trx, {
        at: actor.at,
        personId: actor.personId,
        action: 'invitation.created',
        context: actor.context,
        detail: {
          invitationId: invitation.id,
          invitee: invitation.person_id,
          name: `${invitation.first_name} ${invitation.last_name}`,
          contact: maskContact(invitation.contact_value),
          kind: invitation.contact_kind,
        },
      })
    }
    return { report, invitations }
  })
}

/**
 * Sends every invitation waiting to be sent, four at a time. Each is claimed first (two senders
 * never send one twice) with a fresh token whose hash is stored; the token itself exists only in
 * the message. A failed send leaves no working link.
 */
export async function deliverInvitations(
  deps: InvitationDeps,
  context: RequestContext,
): Promise<{ sent: number; failed: number }> {
  const { db, messenger, clock } = deps
  const queue = await listInvitationsToSend(db, clock.now() - STALE_CLAIM_MS)
  let sent = 0
  let failed = 0
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const token = newToken()
      const now = clock.now()
      const invitation = await claimInvitation(db, {
        id,
        tokenHash: hashToken(token),
        at: now,
        staleBefore: now - STALE_CLAIM_MS,
      })
      if (!invitation) continue
      const contact = { kind: invitation.contact_kind as ContactKind, value: invitation.contact_value }
      let outcome: { status: 'sent' | 'failed'; error: string | null; messageId: number | null }
      try {
        const result = await messenger.send(contact, 'invitation', {
          firstName: invitation.first_name,
          url: `${deps.publicUrl}/invite/${token}`,
          until: formatDay(invitation.expires_at, deps.timeZone),
        })
        outcome = { status: 'sent', error: null, messageId: result.messageId ?? null }
      } catch (error) {
        outcome = {
          status: 'failed',
          error: error instanceof Error ? error.message.slice(0, 300) : 'Sending failed.',
          messageId: null,
        }
      }
      const at = clock.now()
      if (await finishInvitationSend(db, invitation.id, { ...outcome, at })) {
        await recordAudit(db, {
          at,
          personId: invitation.person_id,
          action: outcome.status === 'sent' ? 'invitation.sent' : 'invitation.send-failed',
          context,
          detail: {
            invitationId: invitation.id,
            contact: maskContact(invitation.contact_value),
            ...(outcome.error ? { error: outcome.error } : {}),
          },
        })
      }
      if (outcome.status === 'sent') sent++
      else failed++
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return { sent, failed }
}

/** Why a link does not work, in words for the person holding it (status 404 or 410). */
const refusals = {
  unknown: new UserError(
    404,
    'This invitation link is not valid. Check that the whole link was opened, or sign in with a code instead.',
  ),
  used: new UserError(
    410,
    'This invitation has already been used, and works only once. Sign in with a code instead (your email or mobile number).',
  ),
  revoked: new UserError(
    410,
    'This invitation was withdrawn by an administrator. Ask them for a new one, or sign in with a code instead.',
  ),
  expired: new UserError(
    410,
    'This invitation has expired. Ask an administrator for a new one, or sign in with a code instead.',
  ),
}

/** The invitation a link stands for, if it may still be used; otherwise a UserError saying why not. */
export async function readInvitationLink(db: Db, token: string, now: number): Promise<Invitation> {
  const invitation = looksLikeToken(token) ? await findInvitationByTokenHash(db, hashToken(token)) : undefined
  if (!invitation) throw refusals.unknown
  if (invitation.status === 'used') throw refusals.used
  if (invitation.status === 'revoked') throw refusals.revoked
  if (invitation.status !== 'sent' && invitation.status !== 'sending') throw refusals.unknown
  if (invitation.expires_at <= now) throw refusals.expired
  return invitation
}

/**
 * Uses an invitation link: the contact it was delivered to is verified (added to the person it
 * belongs to, or to a new person named as the import named them) and this device is recognised
 * with a long-lived device token, as after a code. All in one unit: a refusal changes nothing.
 * `allow` may refuse the person (organisation sign-in required for their role).
 */
export async function acceptInvitation(
  deps: Pick<InvitationDeps, 'db' | 'clock' | 'adminContacts'>,
  request: { token: string; context: RequestContext; allow?: (person: Person) => void },
): Promise<{ person: Person; token: string; created: boolean }> {
  const now = deps.clock.now()
  return unitOfWork(deps.db, async (trx) => {
    const invitation = await readInvitationLink(trx, request.token, now)
    const owner = await findContactByValue(trx, invitation.contact_value)
    let person = owner
      ? await findPersonById(trx, owner.person_id)
      : invitation.person_id !== null
        ? await findPersonById(trx, invitation.person_id)
        : undefined
    if (person && (person.deactivated_at !== null || person.erased_at !== null)) {
      throw new UserError(403, 'This account has been deactivated. Please speak to reception.')
    }
    const audit = (personId: number, action: string, detail: object = {}) =>
      recordAudit(trx, { at: now, personId, action, context: request.context, detail })
    let created = false
    if (!person) {
      person = await insertPerson(trx, {
        first_name: invitation.first_name,
        last_name: invitation.last_name,
        created_at: now,
        updated_at: now,
        deactivated_at: null,
      })
      created = true
      await audit(person.id, 'person.created', { via: 'invitation', invitationId: invitation.id })
    }
    request.allow?.(person)
    if (!owner) {
      await insertContact(trx, {
        personId: person.id,
        kind: invitation.contact_kind,
        value: invitation.contact_value,
        at: now,
      })
      await audit(person.id, 'contact.added', {
        contact: maskContact(invitation.contact_value),
        via: 'invitation',
      })
    }
    if (!(await markInvitationUsed(trx, { id: invitation.id, personId: person.id, at: now }))) {
      throw refusals.used
    }
    await audit(person.id, 'invitation.used', {
      invitationId: invitation.id,
      contact: maskContact(invitation.contact_value),
    })
    person = await applyAdminContacts(trx, {
      person,
      contactValue: invitation.contact_value,
      adminContacts: deps.adminContacts ?? [],
      at: now,
      context: request.context,
    })
    const device = await issueDevice(trx, {
      personId: person.id,
      kind: 'browser',
      at: now,
      context: request.context,
    })
    return { person, token: device.token, created }
  })
}

/** Revokes an invitation not yet used: its link stops working at once. */
export async function revokeInvitation(db: Db, actor: InvitationActor, id: number): Promise<Invitation> {
  return unitOfWork(db, async (trx) => {
    const invitation = await findInvitation(trx, id)
    if (!invitation) throw new UserError(404, 'There is no such invitation.')
    if (!(await markInvitationRevoked(trx, id, actor.at))) {
      throw new UserError(
        409,
        `The invitation of ${invitation.first_name} ${invitation.last_name} was already ${invitation.status}.`,
      )
    }
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'invitation.revoked',
      context: actor.context,
      detail: {
        invitationId: id,
        invitee: invitation.person_id,
        name: `${invitation.first_name} ${invitation.last_name}`,
        contact: maskContact(invitation.contact_value),
      },
    })
    return invitation
  })
}

/** The invitation functions' dependencies from a process's context. */
export function invitationDepsOf(
  ctx: Pick<AppContext, 'db' | 'messenger' | 'clock' | 'config'>,
): InvitationDeps {
  const { config } = ctx
  return {
    db: ctx.db,
    messenger: ctx.messenger,
    clock: ctx.clock,
    defaultRegion: config.DEFAULT_PHONE_REGION,
    smsAllowedCountries: config.SMS_ALLOWED_COUNTRIES,
    publicUrl: config.PUBLIC_URL,
    timeZone: config.TIME_ZONE,
    days: config.INVITATION_DAYS,
    textsPerDay: config.INVITATION_TEXTS_PER_DAY,
    adminContacts: config.ADMIN_CONTACTS,
  }
}

/** What the admin page shows: the newest invitations, counts by state, and today's texted count. */
export async function invitationOverview(db: Db, now: number, limit = 500) {
  const invitations = await listInvitations(db, limit)
  return {
    invitations: invitations.map((i) => ({
      ...i,
      contact: maskContact(i.contact_value),
      state: i.status === 'sent' && i.expires_at <= now ? 'expired' : i.status,
    })),
    counts: await countInvitationsByStatus(db, now),
    textedToday: await countTextInvitationsSince(db, now - DAY_MS),
  }
}
