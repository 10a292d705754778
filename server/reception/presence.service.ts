import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { ClosedBy } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { displayContact } from '../identity/contact.js'
import { findPersonById } from '../identity/person.repository.js'
import { UserError } from '../lib/errors.js'
import { formatDay, formatTime, localDay, startOfLocalDay } from '../lib/site-time.js'
import { type RegisterSite, signIn, signOut } from '../register/register.service.js'
import {
  byVisitorName,
  type VisitorInside,
  visitorsAutoClosedSince,
  visitorsInside,
} from '../visitors/visitor.service.js'
import {
  type AutoClosedRow,
  type InsideRow,
  listAutoClosedSince,
  listContactHintsOf,
  listOpenVisitsWithPeople,
  listPhonesOf,
  listVisitsClosedSince,
  type VisitReminder,
} from './presence.repository.js'

/** What the fire list needs to know about the site. */
export interface FireListSettings {
  timeZone: string
  /** A "Still here" answer older than this no longer vouches for the person. */
  stillHereHours: number
  /** A visit the system auto-closed stays on the list, unconfirmed, this long. */
  autoClosedHours: number
}

/** The fire list settings from the config (FIRE_LIST_* and TIME_ZONE). */
export function fireListSettings(config: {
  TIME_ZONE: string
  FIRE_LIST_STILL_HERE_HOURS: number
  FIRE_LIST_AUTO_CLOSED_HOURS: number
}): FireListSettings {
  return {
    timeZone: config.TIME_ZONE,
    stillHereHours: config.FIRE_LIST_STILL_HERE_HOURS,
    autoClosedHours: config.FIRE_LIST_AUTO_CLOSED_HOURS,
  }
}

/** Why someone on the fire list may not really be inside: the marshal decides. */
export type UnconfirmedReason =
  /** Reminded at the end of the day and no answer yet. */
  | { kind: 'reminded'; at: number }
  /** Answered "Still here", but longer ago than the site trusts that answer. */
  | { kind: 'still-here'; at: number }
  /**
   * The nightly auto-close closed the visit, recently enough that they may be inside; or the
   * directory did (`byDirectory`: they left the organisation), or an administrator deactivating them
   * (`byDeactivation`), which nobody saw either. `at` is when the register closed it, which for a
   * visit begun on an earlier day is later than the end it recorded (the end of that day).
   */
  | { kind: 'auto-closed'; at: number; byDirectory?: boolean; byDeactivation?: boolean }
  /** A visit left open since an earlier day (`at` is the sign-in). */
  | { kind: 'earlier-day'; at: number }

/** A member of staff on the fire list. */
export interface FireListPerson {
  personId: number
  firstName: string
  lastName: string
  group: 'in' | 'unconfirmed'
  signedInAt: number
  /** The person's last sign of life: the sign-in, or a later "Still here". */
  lastActivityAt: number
  /** When they answered "Still here" to this visit's reminder, if they did. */
  stillHereAt: number | null
  reason: UnconfirmedReason | null
  /** Set only when someone else on the list has the same name: what tells them apart. */
  tellApart: string | null
}

/**
 * A visitor on the fire list, with their host. Visitors are kept by server/visitors/;
 * `visitorsOnFireList` below is the one place they join the list.
 */
export interface FireListVisitor {
  visitorId: number
  name: string
  company: string
  hostName: string | null
  hostPersonId: number | null
  /** The visitor's mobile (E.164) if they gave one, for the marshals' tap-to-call. */
  phone: string | null
  signedInAt: number
  /** False when the visit began on an earlier day or was auto-closed: they may well have gone. */
  confirmed: boolean
  /**
   * When the nightly auto-close closed the visit (when it ran, not the end it recorded), recently
   * enough that they may be inside; null while the visit is open.
   */
  autoClosedAt: number | null
}

/** Everyone who may be in the building, in three groups, with counts. */
export interface FireList {
  at: number
  in: FireListPerson[]
  unconfirmed: FireListPerson[]
  visitors: FireListVisitor[]
  counts: { in: number; unconfirmed: number; visitors: number; total: number }
}

// One collator for every comparison: localeCompare with options builds a new one per call, which
// made sorting 4,000 names take seconds.
const collator = new Intl.Collator('en', { sensitivity: 'base' })
/** Orders people by first then last name, ignoring case and accents, then by id. */
export const byName = (
  a: { firstName: string; lastName: string; personId: number },
  b: { firstName: string; lastName: string; personId: number },
) =>
  collator.compare(a.firstName, b.firstName) ||
  collator.compare(a.lastName, b.lastName) ||
  a.personId - b.personId

const hourMs = 60 * 60 * 1000

/** A "Still here" given for this visit, if any. */
const stillHereOf = (r: VisitReminder) => (r.answer === 'still-here' ? r.answeredAt : null)

/**
 * Where an open visit stands: in, or unconfirmed with the reason. `startOfToday` is worked out once
 * per list by the caller: a zoned date per person made a list of 2,000 take 50 ms instead of 6.
 */
function placeOpenVisit(
  row: InsideRow,
  now: number,
  startOfToday: number,
  settings: FireListSettings,
): UnconfirmedReason | null {
  if (row.signedInAt < startOfToday) return { kind: 'earlier-day', at: row.signedInAt }
  const stillHere = stillHereOf(row)
  if (stillHere !== null) {
    return now - stillHere > settings.stillHereHours * hourMs ? { kind: 'still-here', at: stillHere } : null
  }
  if (row.reminderStatus === 'sent' && row.answeredAt === null && row.remindedAt !== null) {
    return { kind: 'reminded', at: row.remindedAt }
  }
  return null
}

const entryOf = (row: InsideRow | AutoClosedRow, reason: UnconfirmedReason | null): FireListPerson => {
  const stillHereAt = stillHereOf(row)
  return {
    personId: row.personId,
    firstName: row.firstName,
    lastName: row.lastName,
    group: reason ? 'unconfirmed' : 'in',
    signedInAt: row.signedInAt,
    lastActivityAt: Math.max(row.signedInAt, stillHereAt ?? 0),
    stillHereAt,
    reason,
    tellApart: null,
  }
}

/** Last digits of a phone number, or the domain and first letter of an email: enough to tell apart. */
export function contactHint(contact: { kind: 'phone' | 'email'; value: string }): string {
  if (contact.kind === 'phone') return `phone …${contact.value.slice(-4)}`
  const at = contact.value.indexOf('@')
  return `${contact.value.slice(0, 1)}…${contact.value.slice(at)}`
}

/**
 * Fills `tellApart` for people who share a name with someone else on the same list (contact
 * hint, or the person number when there is no contact). Everyone else is left alone.
 */
export async function tellApart<
  T extends { personId: number; firstName: string; lastName: string; tellApart: string | null },
>(db: Db, people: T[]): Promise<T[]> {
  const key = (p: T) => `${p.firstName}\u0000${p.lastName}`.normalize('NFKD').toLocaleLowerCase('en')
  const byKey = new Map<string, T[]>()
  for (const p of people) byKey.set(key(p), [...(byKey.get(key(p)) ?? []), p])
  const shared = [...byKey.values()].filter((same) => same.length > 1).flat()
  if (shared.length === 0) return people
  const hints = await listContactHintsOf(
    db,
    shared.map((p) => p.personId),
  )
  for (const p of shared) {
    const hint = hints.get(p.personId)
    p.tellApart = hint ? contactHint(hint) : `person #${p.personId}`
  }
  return people
}

/**
 * The people on the fire list who are visitors (from server/visitors/), so the board, the API, the
 * roll call and its CSV get them from the same function as everyone else.
 */
export async function visitorsOnFireList(
  db: Db,
  now: number,
  settings: FireListSettings,
): Promise<FireListVisitor[]> {
  // Like staff, a visitor the auto-close closed stays listed, unconfirmed, for `autoClosedHours`.
  const visitors = [
    ...(await visitorsInside(db, now, settings.timeZone)),
    ...(await visitorsAutoClosedSince(db, now - settings.autoClosedHours * hourMs)),
  ].sort(byVisitorName)
  return visitors.map(asFireListVisitor)
}

/** A visitor as the fire list shows them (see `visitorsOnFireList`). */
export const asFireListVisitor = (v: VisitorInside): FireListVisitor => ({
  visitorId: v.visitorId,
  name: v.name,
  company: v.company,
  hostName: v.hostName || null,
  hostPersonId: v.hostPersonId,
  phone: v.phone,
  signedInAt: v.since,
  confirmed: v.confirmed,
  autoClosedAt: v.autoClosedAt,
})

/**
 * The fire list at an instant — the one answer the board, the presence API, the roll call and its
 * CSV all use. Nobody who tapped in and did not tap out is silently left off:
 * - **In**: an open visit from today with nothing casting doubt on it (or a recent "Still here").
 * - **Unconfirmed**, with the reason: reminded and no answer; "Still here" older than
 *   `stillHereHours`; auto-closed by the system within the last `autoClosedHours` (and not seen
 *   since); a visit left open since an earlier day.
 * - **Visitors**, from `visitorsOnFireList`: inside, or auto-closed within `autoClosedHours`.
 */
export async function fireList(db: Db, now: number, settings: FireListSettings): Promise<FireList> {
  const seen = new Set<number>()
  const people: FireListPerson[] = []
  const startOfToday = startOfLocalDay(localDay(now, settings.timeZone), settings.timeZone)
  for (const row of await listOpenVisitsWithPeople(db)) {
    // The database allows one open visit per person; this keeps the count honest regardless.
    if (seen.has(row.personId)) continue
    seen.add(row.personId)
    people.push(entryOf(row, placeOpenVisit(row, now, startOfToday, settings)))
  }
  for (const row of await listAutoClosedSince(db, now - settings.autoClosedHours * hourMs)) {
    // A visit closed unseen a moment after `now` (a roll call reads the list after waiting for the
    // writes in flight, or another process's clock runs ahead) was open at `now`: they stay listed.
    if (seen.has(row.personId)) continue
    seen.add(row.personId)
    const by =
      row.closedBy === 'directory'
        ? { byDirectory: true }
        : row.closedBy === 'deactivated'
          ? { byDeactivation: true }
          : {}
    people.push(entryOf(row, { kind: 'auto-closed', at: row.closedAt, ...by }))
  }
  await tellApart(db, people)
  people.sort(byName)
  const inside = people.filter((p) => p.group === 'in')
  const unconfirmed = people.filter((p) => p.group === 'unconfirmed')
  const visitors = await visitorsOnFireList(db, now, settings)
  return {
    at: now,
    in: inside,
    unconfirmed,
    visitors,
    counts: {
      in: inside.length,
      unconfirmed: unconfirmed.length,
      visitors: visitors.length,
      total: inside.length + unconfirmed.length + visitors.length,
    },
  }
}

/** Every member of staff on the fire list, in or unconfirmed, sorted by name. */
export const staffOnFireList = (list: FireList): FireListPerson[] =>
  [...list.in, ...list.unconfirmed].sort(byName)

/** A time as marshals read it: "17:30" on the day of `now`, "Mon 30 Nov 17:30" on another. */
export function timeAround(ms: number, now: number, timeZone: string): string {
  return localDay(ms, timeZone) === localDay(now, timeZone)
    ? formatTime(ms, timeZone)
    : `${formatDay(ms, timeZone)} ${formatTime(ms, timeZone)}`
}

/**
 * What marshals need of a visit the nightly auto-close closed: when they were last known inside
 * (their sign-in, or a later "Still here"), that nobody saw them leave, and when the register closed
 * the visit (when it ran, not the end it recorded): "signed in Mon 23 Nov 21:00, not seen leaving
 * (visit closed automatically at 20:00)". Times from another day than `now` carry their day.
 */
export function describeAutoClose(
  seen: { signedInAt: number; stillHereAt?: number | null },
  closedAt: number,
  now: number,
  timeZone: string,
): string {
  const when = (ms: number) => timeAround(ms, now, timeZone)
  const last =
    seen.stillHereAt != null
      ? `said Still here at ${when(seen.stillHereAt)}`
      : `signed in ${when(seen.signedInAt)}`
  return `${last}, not seen leaving (visit closed automatically at ${when(closedAt)})`
}

/**
 * Why a visitor on the fire list or a roll call is unconfirmed, in words for marshals (the board, the
 * roll call, its printed list, CSV and report), or null when they are in, in the same words as a
 * member of staff's: an auto-closed visit (see describeAutoClose), or "open since Mon 30 Nov 08:55".
 */
export function describeVisitorReason(
  v: { confirmed: boolean; autoClosedAt: number | null; signedInAt: number },
  now: number,
  timeZone: string,
): string | null {
  if (v.confirmed) return null
  return v.autoClosedAt !== null
    ? describeAutoClose(v, v.autoClosedAt, now, timeZone)
    : openSince(v.signedInAt, timeZone)
}

/** A visit left open since an earlier day, staff's or a visitor's: "open since Mon 30 Nov 08:55". */
const openSince = (signedInAt: number, timeZone: string): string =>
  `open since ${formatDay(signedInAt, timeZone)} ${formatTime(signedInAt, timeZone)}`

/**
 * Why someone is unconfirmed, in plain words for marshals: "reminded 17:30, no answer", "answered
 * Still here at 17:31", "signed in 08:55, not seen leaving (visit closed automatically at 23:59)",
 * "open since Mon 30 Nov 08:55". Times from an earlier day than `now` carry their day.
 */
export function describeReason(
  reason: UnconfirmedReason,
  person: { signedInAt: number | null; lastActivityAt: number | null; stillHereAt: number | null },
  now: number,
  timeZone: string,
): string {
  const when = (ms: number) => timeAround(ms, now, timeZone)
  switch (reason.kind) {
    case 'reminded':
      return `reminded ${when(reason.at)}, no answer`
    case 'still-here':
      return `answered Still here at ${when(reason.at)}`
    case 'auto-closed': {
      if (!reason.byDirectory && !reason.byDeactivation) {
        return describeAutoClose(
          {
            signedInAt: person.signedInAt ?? person.lastActivityAt ?? reason.at,
            stillHereAt: person.stillHereAt,
          },
          reason.at,
          now,
          timeZone,
        )
      }
      const last =
        person.stillHereAt !== null
          ? `said Still here at ${when(person.stillHereAt)}`
          : `last tap ${when(person.lastActivityAt ?? reason.at)}`
      const closed = reason.byDirectory
        ? 'closed by the directory (left the organisation)'
        : 'deactivated by an administrator'
      return `${closed} ${when(reason.at)}, ${last}`
    }
    case 'earlier-day':
      return openSince(reason.at, timeZone)
  }
}

/** Someone who left today and is not on the fire list. */
export interface PersonDeparted {
  personId: number
  firstName: string
  lastName: string
  leftAt: number
  closedBy: ClosedBy
}

/** What the reception board shows: the fire list, who left today (greyed), and phone numbers. */
export interface PresenceBoard {
  list: FireList
  departed: PersonDeparted[]
  /** Phone numbers (E.164) of the people on the fire list, for the reception role's tap-to-call. */
  phones: Map<number, string>
}

/** The presence board at an instant: the fire list, and who left today and is not on it. */
export async function presenceBoard(db: Db, now: number, settings: FireListSettings): Promise<PresenceBoard> {
  const list = await fireList(db, now, settings)
  const onList = staffOnFireList(list).map((p) => p.personId)
  const listed = new Set(onList)
  const departed: PersonDeparted[] = []
  const startOfToday = startOfLocalDay(localDay(now, settings.timeZone), settings.timeZone)
  for (const row of await listVisitsClosedSince(db, startOfToday)) {
    if (listed.has(row.personId) || row.signedOutAt > now) continue
    listed.add(row.personId)
    departed.push({
      personId: row.personId,
      firstName: row.firstName,
      lastName: row.lastName,
      leftAt: row.signedOutAt,
      closedBy: row.closedBy,
    })
  }
  const phones = await listPhonesOf(db, onList)
  return { list, departed: departed.sort(byName), phones }
}

/** People's phone numbers (E.164, newest per person), for the reception role's tap-to-call. */
export const phonesOf = (db: Db, personIds: readonly number[]): Promise<Map<number, string>> =>
  listPhonesOf(db, personIds)

/** A phone number as marshals see it: the E.164 for the tel: link, and a readable form. */
export function phoneForCall(e164: string | undefined | null): { e164: string; shown: string } | null {
  if (!e164) return null
  return { e164, shown: displayContact({ kind: 'phone', value: e164 }) }
}

/**
 * Records that a reception page showed people's phone numbers to someone (audit
 * `contacts.shown`): staff views stay masked, and whoever saw the numbers is on record.
 */
export async function recordContactsShown(
  db: Db,
  request: { personId: number; at: number; context: RequestContext; page: string; count: number },
): Promise<void> {
  if (request.count === 0) return
  await recordAudit(db, {
    at: request.at,
    personId: request.personId,
    action: 'contacts.shown',
    context: request.context,
    detail: { page: request.page, phones: request.count },
  })
}

/**
 * Reception signs a person in or out from the board (they forgot, or tapped at the wrong door).
 * The register's own rules apply (idempotent, a stale visit is not closed at today's time); the
 * change is audited both as the person's visit (via "reception") and as the marshal's action.
 */
export async function tapForPerson(
  db: Db,
  request: { personId: number; at: number; context: RequestContext } & {
    subjectId: number
    action: 'sign-in' | 'sign-out'
  },
  site: RegisterSite,
): Promise<{ changed: boolean; inside: boolean; message: string }> {
  return unitOfWork(db, async (trx) => {
    const person = await findPersonById(trx, request.subjectId)
    if (!person || person.deactivated_at !== null) throw new UserError(404, 'There is no such person.')
    const name = `${person.first_name} ${person.last_name}`
    const tap = request.action === 'sign-in' ? signIn : signOut
    const result = await tap(
      trx,
      { personId: person.id, now: request.at, context: request.context, via: 'reception' },
      site,
    )
    if (result.changed) {
      await recordAudit(trx, {
        at: request.at,
        personId: request.personId,
        action: request.action === 'sign-in' ? 'reception.signed-in-person' : 'reception.signed-out-person',
        context: request.context,
        detail: { subjectId: person.id },
      })
    }
    const inside = result.presence.state === 'in'
    return {
      changed: result.changed,
      inside,
      message: result.changed
        ? `${name} is now signed ${inside ? 'in' : 'out'}.`
        : `Nothing changed: ${name} ${
            result.presence.state === 'stale'
              ? 'has a visit open since an earlier day; only they can say when they left.'
              : `was already signed ${inside ? 'in' : 'out'}.`
          }`,
    }
  })
}
