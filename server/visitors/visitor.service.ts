import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Visitor, VisitorClosedBy, VisitorVia } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { parseContact } from '../identity/contact.js'
import { findPersonById } from '../identity/person.repository.js'
import { savedByKiosk } from '../kiosk/kiosk.service.js'
import {
  compareNames,
  MAX_MATCHES,
  nameMatches,
  searchPeopleByName,
  searchWords,
} from '../kiosk/name-search.js'
import { UserError } from '../lib/errors.js'
import { endOfLocalDay, localDay, startOfLocalDay } from '../lib/site-time.js'
import { REPLAY_WINDOW_MS, replayedAt } from '../register/offline-replay.js'
import { recordVisitorArrival } from './host-notice.service.js'
import { siteNoticeExists } from './site-notice.repository.js'
import {
  closeVisitor,
  findVisitor,
  findVisitorByClientKey,
  insertVisitor,
  listVisitorsAutoClosedSince,
  listVisitorsInside,
  listVisitorsSignedOutSince,
  type VisitorInsideRow,
} from './visitor.repository.js'
import { addVisitorToRunningRollCall } from './visitor-roll-call.repository.js'
import { signOutOnRollCall } from './visitor-roll-call.service.js'

/** A visitor form that needs correcting: a message per field, shown next to it. */
export class VisitorFormError extends UserError {
  constructor(public readonly errors: Record<string, string>) {
    super(422, Object.values(errors)[0] ?? 'Please check the details.')
  }
}

/** What a visitor (or reception, for a walk-in) types. Every field is text as it arrived. */
export interface VisitorInput {
  name?: string
  company?: string
  /** The host picked from the name search. */
  hostId?: number
  /** The host's name as typed, when no pick was possible (a kiosk offline). */
  hostText?: string
  phone?: string
  email?: string
  /** The id of the site notice version the visitor accepted. */
  acceptNotice?: number
  /** A JPEG data URL from the kiosk camera. */
  photo?: string
}

/** The settings visitor sign-in needs. */
export interface VisitorSite {
  timeZone: string
  defaultRegion: string
}

/** Where a visitor's sign-in comes from: a kiosk (with its key for replays), reception, or an invitation. */
export interface VisitorSource {
  via: VisitorVia
  kiosk: { id: number; name: string } | null
  /** The member of staff who did it (reception), or null. */
  personId: number | null
  context: RequestContext
}

/** Someone from outside in the building now: the fire list's Visitors. */
export interface VisitorInside {
  visitorId: number
  name: string
  company: string
  /** The host's name, or what the visitor typed when no one matched. */
  hostName: string
  hostPersonId: number | null
  phone: string | null
  since: number
  /** False when the visit began on an earlier day, or the auto-close closed it: they may well have gone. */
  confirmed: boolean
  /**
   * When the nightly auto-close closed the visit (nobody saw them leave): when it ran (`closed_at`), not
   * the end it recorded; null while it is open.
   */
  autoClosedAt: number | null
  kioskName: string | null
}

const text = (value: string | undefined) => (value ?? '').normalize('NFC').trim().replace(/\s+/g, ' ')
const MAX_PHOTO = 60_000

/**
 * Checks and cleans a visitor's details; throws VisitorFormError with a message per field. With
 * `replayed` (a sign-in a kiosk saved with no network: the visitor is inside and cannot be asked),
 * it never throws: what cannot be used is left out and named in `setAside`, the name kept as typed.
 */
export async function readVisitorInput(
  db: Db,
  input: VisitorInput,
  site: VisitorSite,
  options: { noticeId: number | null; allowHostText: boolean; replayed?: boolean },
): Promise<{
  name: string
  company: string
  hostPersonId: number | null
  hostText: string | null
  phone: string | null
  email: string | null
  noticeId: number | null
  photo: string | null
  setAside: string[]
}> {
  const errors: Record<string, string> = {}
  // Whom a replayed sign-in came to see, when that person can no longer be their host.
  let goneHost: string | null = null
  const name = text(input.name)
  if (!/\p{L}/u.test(name)) errors.name = 'Enter your full name.'
  else if (name.length > 100) errors.name = 'Keep your name under 100 characters.'
  const company = text(input.company)
  if (company.length > 100) errors.company = 'Keep the company under 100 characters.'

  let hostPersonId: number | null = null
  let hostText: string | null = null
  if (input.hostId !== undefined) {
    const host = await findPersonById(db, input.hostId)
    if (!host || host.deactivated_at !== null) {
      errors.host = 'Pick the person you are visiting from the list.'
      if (host) goneHost = `${host.first_name} ${host.last_name}`
    } else hostPersonId = host.id
  } else if (options.allowHostText && text(input.hostText) !== '') {
    hostText = text(input.hostText).slice(0, 100)
    // Typed without a list to pick from: one clear match is the host, otherwise reception reads the text.
    const found = await searchPeopleByName(db, hostText).catch(() => undefined)
    if (found && found.matches.length === 1 && !found.more) {
      hostPersonId = found.matches[0]!.personId
      hostText = null
    }
  } else {
    errors.host = 'Type the name of the person you are visiting, then pick them.'
  }

  let phone: string | null = null
  if (text(input.phone) !== '') {
    const parsed = parseContact(text(input.phone), site.defaultRegion)
    if (!parsed.ok || parsed.contact.kind !== 'phone')
      errors.phone = 'That does not look like a mobile number.'
    else phone = parsed.contact.value
  }
  let email: string | null = null
  if (text(input.email) !== '') {
    const parsed = parseContact(text(input.email), site.defaultRegion)
    if (!parsed.ok || parsed.contact.kind !== 'email')
      errors.email = 'That does not look like an email address.'
    else email = parsed.contact.value
  }

  let noticeId: number | null = null
  if (options.noticeId !== null) {
    const accepted = input.acceptNotice
    const exists = accepted !== undefined && (await siteNoticeExists(db, accepted))
    if (!exists) errors.accept = 'Please read the site notice and tick that you accept it.'
    else noticeId = accepted
  }

  let photo: string | null = null
  if (input.photo) {
    if (input.photo.length > MAX_PHOTO || !/^data:image\/jpeg;base64,[A-Za-z0-9+/]+=*$/.test(input.photo)) {
      errors.photo = 'The photo could not be used. Take it again, or sign in without one.'
    } else photo = input.photo
  }
  const setAside = Object.keys(errors)
  if (setAside.length > 0 && !options.replayed) throw new VisitorFormError(errors)
  return {
    name: errors.name ? text(input.name).slice(0, 100) || 'Visitor (no name given)' : name,
    company: company.slice(0, 100),
    hostPersonId,
    hostText: errors.host ? goneHost : hostText,
    phone,
    email,
    noticeId,
    photo,
    setAside,
  }
}

/**
 * When a kiosk's sign-in happened by the server's clock: now, or for one it kept (offline) its age
 * back from now. One older than the replay window is refused in words for the kiosk's notice and
 * reception's board, as it does not reach the fire list.
 */
export function kioskSignInTime(
  saved: { at?: number; sentAt?: number; now: number },
  site: VisitorSite,
): number {
  if (saved.at === undefined) return saved.now
  const age = (saved.sentAt ?? saved.now) - saved.at
  if (age > REPLAY_WINDOW_MS) {
    throw new UserError(
      422,
      'Saved on the kiosk more than 12 hours before it reached the register, so it was not put on the fire list. If they are still here, sign them in at reception.',
    )
  }
  return replayedAt({ at: saved.at, sentAt: saved.sentAt, now: saved.now }, site).at
}

/**
 * Signs a visitor in at an instant (`at`: now; or `saved`, when a kiosk that was offline saw them).
 * A kiosk's sign-in carries a key: the same sign-in sent again returns the first one, unchanged,
 * however late it comes (its first try may have arrived with only its answer lost).
 */
export async function signInVisitor(
  db: Db,
  request: {
    input: VisitorInput
    source: VisitorSource
    at: number
    now: number
    /**
     * When a kiosk's queue says it was made, by the tablet's clock (`kioskSignInTime`): the sign-in's
     * instant instead of `at`, worked out (and refused when too old) only once no earlier try with
     * its key is found.
     */
    saved?: { at: number; sentAt?: number }
    clientKey?: string
    /**
     * The sign-in carries its own time (a kiosk's queue): a host typed without a pick is then
     * accepted, since the kiosk may have had no network to look names up, however briefly.
     */
    timed?: boolean
    /** The current site notice version, if any: then the visitor must have accepted one. */
    noticeId: number | null
    /**
     * Sent from the kiosk's offline queue: the visitor was told they are signed in and is inside,
     * so a detail that fails the checks (a host who left meanwhile, a mistyped phone) is left out
     * rather than the sign-in refused, which would keep them off the fire list.
     */
    replayed?: boolean
    /**
     * What the route cut or left out of a replayed sign-in to fit the request's length limits
     * (`name`, `photo`, …): audited in `setAside` with what the checks set aside.
     */
    cut?: string[]
    /**
     * The kiosks the tablet saved this sign-in under while it was paired as another (oldest first):
     * an earlier try under one of them may have arrived with its answer lost, so the same key under
     * any of them is the same sign-in. The first is audited as the kiosk that saved it.
     */
    savedUnder?: readonly number[]
  },
  site: VisitorSite,
): Promise<{ visitor: Visitor; changed: boolean }> {
  const { source } = request
  const kioskId = source.kiosk?.id ?? null
  const keyedUnder = kioskId === null ? [] : [kioskId, ...(request.savedUnder ?? [])]
  if (request.clientKey !== undefined && kioskId !== null) {
    const earlier = await findVisitorByClientKey(db, keyedUnder, request.clientKey)
    if (earlier) return { visitor: earlier, changed: false }
  }
  const at = request.saved ? kioskSignInTime({ ...request.saved, now: request.now }, site) : request.at
  const savedBy = await savedByKiosk(db, request.savedUnder)
  const clean = await readVisitorInput(db, request.input, site, {
    noticeId: request.noticeId,
    allowHostText: request.clientKey !== undefined && request.timed === true,
    replayed: request.replayed === true && request.clientKey !== undefined,
  })
  const setAside = [...new Set([...clean.setAside, ...(request.cut ?? [])])]
  return unitOfWork(db, async (trx) => {
    const visitor = await insertVisitor(trx, {
      name: clean.name,
      company: clean.company,
      host_person_id: clean.hostPersonId,
      host_text: clean.hostText,
      phone: clean.phone,
      email: clean.email,
      notice_id: clean.noticeId,
      notice_accepted_at: clean.noticeId === null ? null : at,
      expected_day: null,
      invited_by: null,
      kiosk_id: kioskId,
      signed_in_via: source.via,
      signed_in_at: at,
      signed_out_at: null,
      closed_by: null,
      client_key: kioskId !== null ? (request.clientKey ?? null) : null,
      host_notified_at: null,
      reminded_at: null,
      photo: clean.photo,
      created_at: request.now,
    })
    if (!visitor) {
      // The same sign-in, committed by a concurrent copy of the request.
      return { visitor: (await findVisitorByClientKey(trx, [kioskId!], request.clientKey!))!, changed: false }
    }
    await auditVisitor(trx, visitor, source, request.now, 'visitor.signed-in', {
      at,
      ...(at < request.now - 60_000 ? { replayed: true } : {}),
      ...(setAside.length > 0 ? { setAside } : {}),
      ...savedBy,
    })
    // The host notice (and the chat post) go out from the outbox: committed with the sign-in or not at all.
    await recordVisitorArrival(trx, visitor.id, at, request.now)
    await putOnRunningRollCall(trx, visitor)
    return { visitor, changed: true }
  })
}

/**
 * Adds a visitor who just signed in to the running roll call, if any: one signed in at a kiosk
 * that was offline when the alarm rang, or arriving during the roll call, is inside like the rest.
 * With `answeredAt`, one who is signed out too: they answered the evacuation message ("I need
 * help", "I'm safe") while off the list, and their answer must be on it, as a member of staff's is;
 * put there as not on the list when it started (from `answeredAt`, or the start for an answer
 * carried onto it), as such a member of staff is.
 */
export async function putOnRunningRollCall(
  db: Db,
  visitor: Visitor,
  options: { answeredAt?: number } = {},
): Promise<void> {
  if (visitor.signed_in_at === null || (visitor.signed_out_at !== null && options.answeredAt === undefined))
    return
  const host = visitor.host_person_id === null ? undefined : await findPersonById(db, visitor.host_person_id)
  await addVisitorToRunningRollCall(db, {
    visitorId: visitor.id,
    name: visitor.name,
    company: visitor.company,
    hostName: hostLabel({
      hostFirstName: host?.first_name ?? null,
      hostLastName: host?.last_name ?? null,
      hostText: visitor.host_text,
    }),
    phone: visitor.phone,
    signedInAt: visitor.signed_in_at,
    addedAfterStartAt: options.answeredAt,
  })
}

/**
 * Puts a visitor who answered the evacuation message on the running roll call if they are not on
 * it (signed out before it started: on their way out, or by a wrong tap), so that their answer has
 * a line to land on: under "Not on the list when it started", as a member of staff with only a
 * mark, counted as such (not on the list; still to be found while they need help or are missing).
 * `at` is when they were put on it: the answer's time, or the start for one carried onto it.
 */
export async function putAnsweringVisitorOnRunningRollCall(
  db: Db,
  visitorId: number,
  at: number,
): Promise<void> {
  const visitor = await findVisitor(db, visitorId)
  if (visitor) await putOnRunningRollCall(db, visitor, { answeredAt: at })
}

/**
 * Ends a visitor's visit. Idempotent: an already ended visit changes nothing and says so. On a
 * running roll call their line then says when they left (before the alarm, or during it).
 */
export async function signOutVisitor(
  db: Db,
  request: { visitorId: number; at: number; now: number; closedBy: VisitorClosedBy; source: VisitorSource },
): Promise<{ visitor: Visitor; changed: boolean }> {
  return unitOfWork(db, async (trx) => {
    const existing = await findVisitor(trx, request.visitorId)
    if (!existing || existing.signed_in_at === null)
      throw new UserError(404, 'There is no such visitor signed in.')
    if (existing.signed_out_at !== null) return { visitor: existing, changed: false }
    const at = Math.max(request.at, existing.signed_in_at)
    const closed = await closeVisitor(trx, existing.id, at, request.closedBy, request.now)
    if (!closed) return { visitor: (await findVisitor(trx, existing.id))!, changed: false }
    await auditVisitor(trx, closed, request.source, request.now, 'visitor.signed-out', {
      closedBy: request.closedBy,
    })
    await signOutOnRollCall(trx, closed, { now: request.now, ...request.source })
    return { visitor: closed, changed: true }
  })
}

/** Writes a visitor's audit row: ids and the kiosk's name, never the visitor's details. */
export async function auditVisitor(
  db: Db,
  visitor: Pick<Visitor, 'id'>,
  source: VisitorSource,
  at: number,
  action: string,
  detail: object = {},
): Promise<void> {
  await recordAudit(db, {
    at,
    personId: source.personId,
    action,
    context: source.context,
    detail: {
      visitorId: visitor.id,
      via: source.via,
      ...(source.kiosk ? { kioskId: source.kiosk.id, kiosk: source.kiosk.name } : {}),
      ...detail,
    },
  })
}

/** The host as people read it: their name, or what the visitor typed (marked), or empty. */
export function hostLabel(r: {
  hostFirstName: string | null
  hostLastName: string | null
  hostText: string | null
}): string {
  if (r.hostFirstName !== null) return `${r.hostFirstName} ${r.hostLastName}`
  return r.hostText ? `${r.hostText} (as typed)` : ''
}

/**
 * Every visitor in the building now, by name: the Visitors group of the fire list (board, presence
 * API, roll call, exports). Visits begun on an earlier day are listed, unconfirmed.
 */
export async function visitorsInside(db: Db, now: number, timeZone: string): Promise<VisitorInside[]> {
  const startOfToday = startOfLocalDay(localDay(now, timeZone), timeZone)
  const rows = await listVisitorsInside(db)
  return rows.map((r) => visitorInside(r, r.signedInAt >= startOfToday, null)).sort(byVisitorName)
}

/**
 * Visitors the nightly auto-close closed at or after `from` (even a moment after the list's own
 * instant: they were inside then): nobody saw them leave, so the fire list keeps them, unconfirmed,
 * as it keeps staff whose visit it closed.
 */
export async function visitorsAutoClosedSince(db: Db, from: number): Promise<VisitorInside[]> {
  return (await listVisitorsAutoClosedSince(db, from))
    .map((r) => visitorInside(r, false, r.closedAt))
    .sort(byVisitorName)
}

/**
 * Visitors who signed out (at the kiosk, with their link, or by reception) at or after `from`,
 * oldest first, with when: the auto-close is no sign-out (the fire list keeps those it closed).
 */
export async function visitorsSignedOutSince(
  db: Db,
  from: number,
): Promise<(VisitorInside & { signedOutAt: number })[]> {
  return (await listVisitorsSignedOutSince(db, from)).map((r) => ({
    ...visitorInside(r, true, null),
    signedOutAt: r.signedOutAt,
  }))
}

const visitorInside = (
  r: VisitorInsideRow,
  confirmed: boolean,
  autoClosedAt: number | null,
): VisitorInside => ({
  visitorId: r.visitorId,
  name: r.name,
  company: r.company,
  hostName: hostLabel(r),
  hostPersonId: r.hostPersonId,
  phone: r.phone,
  since: r.signedInAt,
  confirmed,
  autoClosedAt,
  kioskName: r.kioskName,
})

/** Orders visitors by name (ignoring case and accents), then by visit. */
export const byVisitorName = (
  a: { name: string; visitorId: number },
  b: { name: string; visitorId: number },
) => compareNames(a.name, b.name) || a.visitorId - b.visitorId

/**
 * Visitors inside whose name matches a search (3+ letters), at most a few, for signing out at the
 * kiosk, with when they signed in (what tells namesakes apart).
 */
export async function findVisitorsInsideByName(
  db: Db,
  typed: string,
  now: number,
  timeZone: string,
): Promise<{
  matches: { visitorId: number; name: string; company: string; since: number }[]
  more: boolean
}> {
  const words = searchWords(typed)
  const found = (await visitorsInside(db, now, timeZone)).filter((v) => nameMatches(words, v.name, ''))
  return {
    matches: found
      .slice(0, MAX_MATCHES)
      .map((v) => ({ visitorId: v.visitorId, name: v.name, company: v.company, since: v.since })),
    more: found.length > MAX_MATCHES,
  }
}

/** A visitor's visit by id. */
export async function visitorById(db: Db, id: number): Promise<Visitor | undefined> {
  return findVisitor(db, id)
}

/**
 * Closes every visitor signed in by `now` and still in, as `auto` (not confirmed), like staff
 * visits: at `now`, or at the end of their own day if they signed in on an earlier day; recorded
 * as closed by the register at `ranAt` (the server's clock; `now` if absent), from which the fire
 * list keeps them Unconfirmed. Audited; safe to run twice.
 */
export async function autoCloseVisitors(
  db: Db,
  request: { now: number; ranAt?: number; timeZone: string; context: RequestContext },
): Promise<number[]> {
  const closed: number[] = []
  for (const v of await listVisitorsInside(db)) {
    // A late run (as of 23:59, at 00:05) leaves who came in after its time inside.
    if (v.signedInAt > request.now) continue
    const at = Math.min(
      request.now,
      endOfLocalDay(localDay(v.signedInAt, request.timeZone), request.timeZone),
    )
    const done = await unitOfWork(db, async (trx) => {
      const row = await closeVisitor(trx, v.visitorId, at, 'auto', request.ranAt ?? request.now)
      if (row)
        await recordAudit(trx, {
          at: request.now,
          personId: null,
          action: 'visitor.auto-closed',
          context: request.context,
          detail: { visitorId: v.visitorId, closedAt: at },
        })
      return row
    })
    if (done) closed.push(v.visitorId)
  }
  return closed
}
