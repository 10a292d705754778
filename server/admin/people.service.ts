import { getCountryCallingCode, isSupportedCountry } from 'libphonenumber-js'
import { listAuditForPerson, recordAudit } from '../audit/audit.repository.js'
import { type DetailLine, readableDetail } from '../audit/audit-detail.js'
import type { Db } from '../db/connect.js'
import type { AuditEvent, ClosedBy, Device, Person, Role, Visit } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { maskContact, parseContact } from '../identity/contact.js'
import { findContactByValue, listContacts } from '../identity/contact.repository.js'
import { NameError, parseName } from '../identity/person.js'
import { findPersonById, updatePerson } from '../identity/person.repository.js'
import { hasRole } from '../identity/roles.js'
import { countActiveAdmins } from '../identity/roles.repository.js'
import type { AdminActor } from '../identity/roles.service.js'
import { UserError } from '../lib/errors.js'
import { idFromText } from '../lib/ids.js'
import { formatDateTime, localDay } from '../lib/site-time.js'
import { closeLeftOpenVisit, signOutOnRollCall } from '../register/register.service.js'
import { closeVisit, findOpenVisit } from '../register/visit.repository.js'
import {
  findVisitOf,
  listAllDevices,
  listRecentVisits,
  moveBelongings,
  type PersonSummary,
  revokeAllDevices,
  searchPeople,
} from './people.repository.js'

/** The person with this id; a 404 UserError when there is none. */
export async function requirePerson(db: Db, id: number): Promise<Person> {
  const person = await findPersonById(db, id)
  if (!person) throw new UserError(404, 'There is no such person.')
  return person
}

/**
 * Part of a phone number as typed ("07911", "+44 7911", "7911 123") → a LIKE pattern on stored
 * E.164 numbers: a national number starts after the country code, an international one is a
 * prefix, bare digits match anywhere. Undefined when the query is not a number fragment.
 */
export function phonePattern(query: string, defaultRegion: string): string | undefined {
  if (!/^\+?[\d\s().-]+$/.test(query)) return undefined
  const digits = query.replace(/\D/g, '')
  if (digits.length < 3) return undefined
  if (query.startsWith('+')) return `+${digits}%`
  if (digits.startsWith('0') && isSupportedCountry(defaultRegion))
    return `+${getCountryCallingCode(defaultRegion)}${digits.slice(1)}%`
  return `%${digits}%`
}

/** At most this many people are listed by a search. */
const searchLimit = 100

/**
 * The admin's people search: by name or contact, or everyone most recently active first. Contacts
 * come masked; `more` says there were more than the page shows.
 */
export async function findPeople(
  db: Db,
  query: string,
  defaultRegion: string,
): Promise<{ people: PersonSummary[]; more: boolean }> {
  const q = query.trim()
  const parsed = q ? parseContact(q, defaultRegion) : undefined
  const people = await searchPeople(
    db,
    q,
    searchLimit + 1,
    parsed?.ok ? parsed.contact.value : undefined,
    phonePattern(q, defaultRegion),
  )
  return {
    more: people.length > searchLimit,
    people: people
      .slice(0, searchLimit)
      .map((p) => ({ ...p, contact: p.contact ? maskContact(p.contact) : '' })),
  }
}

/** Everything the admin's page about a person shows: contacts (masked), visits, devices, audit. */
export interface PersonDetails {
  person: Person
  contacts: { kind: string; masked: string }[]
  visits: Visit[]
  devices: Device[]
  /** The latest audit entries about them, each detail as labelled lines. */
  audit: (AuditEvent & { details: DetailLine[] })[]
}

/** The admin's view of one person; a 404 UserError when there is no such person. */
export async function personDetails(db: Db, id: number, timeZone: string): Promise<PersonDetails> {
  const person = await requirePerson(db, id)
  const [contacts, visits, devices, audit] = await Promise.all([
    listContacts(db, id),
    listRecentVisits(db, id, 30),
    listAllDevices(db, id, 30),
    listAuditForPerson(db, id, 50),
  ])
  return {
    person,
    contacts: contacts.map((c) => ({ kind: c.kind, masked: maskContact(c.value) })),
    visits,
    devices,
    audit: audit.map((a) => ({
      ...a,
      details: readableDetail(a.detail, (ms) => formatDateTime(ms, timeZone)),
    })),
  }
}

/**
 * Finds the person an admin refers to by number ("#12" or "12") or by one of their contacts;
 * undefined when nobody matches.
 */
export async function findPersonByReference(
  db: Db,
  text: string,
  defaultRegion: string,
): Promise<Person | undefined> {
  const value = text.trim().replace(/^#/, '')
  // A number an id can be is an id; a longer one (a phone number's digits) is tried as a contact.
  const id = idFromText(value)
  if (id !== undefined) return findPersonById(db, id)
  const parsed = parseContact(value, defaultRegion)
  if (!parsed.ok) return undefined
  const contact = await findContactByValue(db, parsed.contact.value)
  return contact ? findPersonById(db, contact.person_id) : undefined
}

/** Refuses (409) a change that would leave no active administrator. */
export async function refuseLastAdmin(db: Db, person: Person, what: string): Promise<void> {
  if (person.role === 'admin' && person.deactivated_at === null && (await countActiveAdmins(db)) <= 1) {
    throw new UserError(409, `${what} would leave nobody able to administer the site.`)
  }
}

/** Renames someone; throws NameError (422) with per-field messages when unusable. */
export async function adminRename(
  db: Db,
  actor: AdminActor,
  personId: number,
  input: { firstName: unknown; lastName: unknown },
): Promise<void> {
  const name = parseName(input.firstName, input.lastName)
  if (!name.ok) throw new NameError(name.errors)
  await unitOfWork(db, async (trx) => {
    const person = await requirePerson(trx, personId)
    await updatePerson(trx, personId, {
      first_name: name.firstName,
      last_name: name.lastName,
      updated_at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.renamed',
      context: actor.context,
      detail: {
        from: `${person.first_name} ${person.last_name}`,
        firstName: name.firstName,
        lastName: name.lastName,
        by: actor.personId,
      },
    })
  })
}

/**
 * The part of deactivation every path shares (an admin, the directory): every device revoked, an
 * open visit closed now with `closedBy`, the person marked deactivated. The caller audits.
 */
export async function stopPerson(
  db: Db,
  personId: number,
  at: number,
  closedBy: ClosedBy,
): Promise<DeactivateResult> {
  const devicesRevoked = await revokeAllDevices(db, personId, at)
  const open = await findOpenVisit(db, personId)
  const closedVisit = open
    ? await closeVisit(db, open.id, Math.max(at, open.signed_in_at), closedBy, at)
    : undefined
  await updatePerson(db, personId, { deactivated_at: at, updated_at: at })
  return { devicesRevoked, closedVisit }
}

/** What deactivation did. */
export interface DeactivateResult {
  devicesRevoked: number
  closedVisit: Visit | undefined
}

/**
 * Deactivates someone: every device is revoked, an open visit is closed now as `deactivated` (nobody
 * saw them leave: the fire list keeps them Unconfirmed for a while), history stays. They cannot
 * sign in again until reactivated.
 */
export async function deactivatePerson(
  db: Db,
  actor: AdminActor,
  personId: number,
): Promise<DeactivateResult> {
  if (actor.personId === personId) throw new UserError(409, 'You cannot deactivate yourself.')
  return unitOfWork(db, async (trx) => {
    const person = await requirePerson(trx, personId)
    if (person.deactivated_at !== null) throw new UserError(409, 'This person is already deactivated.')
    await refuseLastAdmin(trx, person, 'Deactivating the only administrator')
    const { devicesRevoked, closedVisit } = await stopPerson(trx, personId, actor.at, 'deactivated')
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.deactivated',
      context: actor.context,
      detail: { devicesRevoked, closedVisitId: closedVisit?.id ?? null, by: actor.personId },
    })
    return { devicesRevoked, closedVisit }
  })
}

/** Lets a deactivated person sign in again (with a new code; their old devices stay revoked). */
export async function reactivatePerson(db: Db, actor: AdminActor, personId: number): Promise<void> {
  await unitOfWork(db, async (trx) => {
    const person = await requirePerson(trx, personId)
    if (person.deactivated_at === null) throw new UserError(409, 'This person is already active.')
    if (person.erased_at !== null) {
      throw new UserError(409, 'An erased person cannot come back. They can sign up again as someone new.')
    }
    await updatePerson(trx, personId, { deactivated_at: null, updated_at: actor.at })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.reactivated',
      context: actor.context,
      detail: { by: actor.personId },
    })
  })
}

/** What a merge moved. */
export interface MergeResult {
  contacts: number
  visits: number
  devices: number
  auditEvents: number
  /** A duplicate open visit closed so the kept person has at most one. */
  closedVisit: Visit | undefined
}

/**
 * Merges `removeId` into `keepId` (the same human with two accounts, e.g. email and phone):
 * contacts, visits, devices, codes and audit rows move to the kept person, who gets the higher
 * of the two roles. If both have an open visit: on the same day, the later one is closed as `admin`
 * at its own sign-in time (the earlier visit already covers it); on different days, the earlier one
 * was left open and is closed as `auto` at the end of its own day (unconfirmed), as a sign-in on a
 * later day does, so today's stays open. The emptied person is deactivated.
 */
export async function mergePeople(
  db: Db,
  actor: AdminActor,
  keepId: number,
  removeId: number,
  site: { timeZone: string },
): Promise<MergeResult> {
  if (keepId === removeId) throw new UserError(422, 'Choose two different people to merge.')
  if (actor.personId === removeId) {
    throw new UserError(409, 'You cannot merge your own account away. Merge the other account into yours.')
  }
  return unitOfWork(db, async (trx) => {
    const keep = await requirePerson(trx, keepId)
    const remove = await requirePerson(trx, removeId)
    const openKeep = await findOpenVisit(trx, keepId)
    const openRemove = await findOpenVisit(trx, removeId)
    let closedVisit: Visit | undefined
    if (openKeep && openRemove) {
      const [earlier, later] =
        openKeep.signed_in_at > openRemove.signed_in_at ? [openRemove, openKeep] : [openKeep, openRemove]
      closedVisit =
        localDay(earlier.signed_in_at, site.timeZone) === localDay(later.signed_in_at, site.timeZone)
          ? await closeVisit(trx, later.id, later.signed_in_at, 'admin', actor.at)
          : await closeLeftOpenVisit(trx, earlier, { notAfter: later.signed_in_at, closedAt: actor.at }, site)
    }
    const moved = await moveBelongings(trx, removeId, keepId)
    const role: Role = hasRole(keep.role, remove.role) ? keep.role : remove.role
    await updatePerson(trx, keepId, {
      role,
      updated_at: actor.at,
      ...(keep.deactivated_at !== null && remove.deactivated_at === null ? { deactivated_at: null } : {}),
    })
    await updatePerson(trx, removeId, { role: 'staff', deactivated_at: actor.at, updated_at: actor.at })
    const detail = {
      kept: { id: keepId, name: `${keep.first_name} ${keep.last_name}` },
      removed: { id: removeId, name: `${remove.first_name} ${remove.last_name}` },
      moved,
      closedVisitId: closedVisit?.id ?? null,
      role,
      by: actor.personId,
    }
    await recordAudit(trx, {
      at: actor.at,
      personId: keepId,
      action: 'person.merged',
      context: actor.context,
      detail,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: removeId,
      action: 'person.merged-away',
      context: actor.context,
      detail,
    })
    return { ...moved, closedVisit }
  })
}

/**
 * Closes someone's visit (typically one they forgot) at a given time, as `admin`, with a note.
 * The time must be after the sign-in and not in the future.
 */
export async function adminCloseVisit(
  db: Db,
  actor: AdminActor,
  request: { personId: number; visitId: number; leftAt: number | null; note: string },
): Promise<Visit> {
  const note = request.note.trim().replace(/\s+/g, ' ').slice(0, 200)
  return unitOfWork(db, async (trx) => {
    const visit = await findVisitOf(trx, request.personId, request.visitId)
    if (!visit) throw new UserError(404, 'That visit does not exist.')
    if (visit.signed_out_at !== null) throw new UserError(409, 'That visit is already closed.')
    const { leftAt } = request
    if (leftAt === null)
      throw new UserError(422, 'Enter the day and time they left, like 2026-11-20 and 17:30.')
    if (leftAt < visit.signed_in_at)
      throw new UserError(422, 'They left after they signed in: enter a later time.')
    if (leftAt > actor.at) throw new UserError(422, 'That time is in the future.')
    const closed = await closeVisit(trx, visit.id, leftAt, 'admin', actor.at)
    if (!closed) throw new UserError(409, 'That visit is already closed.')
    await recordAudit(trx, {
      at: actor.at,
      personId: request.personId,
      action: 'visit.closed-by-admin',
      context: actor.context,
      detail: { visitId: visit.id, leftAt, note, by: actor.personId },
    })
    // Told when they left: during a roll call, their line says so, as for a sign-out.
    await signOutOnRollCall(trx, closed, { now: actor.at, context: actor.context })
    return closed
  })
}
