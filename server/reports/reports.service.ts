import { DateTime } from 'luxon'
import type { Db } from '../db/connect.js'
import { endOfLocalDay, isoUtc } from '../lib/site-time.js'
import { listVisitorsSignedInBetween } from '../visitors/visitor.repository.js'
import { hostLabel } from '../visitors/visitor.service.js'
import { type DateRange, daysOf } from './date-range.js'
import type { ExportColumn } from './export.js'
import { LocalTime } from './local-time.js'
import { iterateVisitPages, iterateVisits, PersonNames, type ReportVisit } from './visit-report.repository.js'

/** How a visit ended, as exports show it. */
export type VisitStatus =
  | 'open'
  | 'signed-out'
  | 'auto-closed'
  | 'closed-by-admin'
  | 'closed-by-directory'
  | 'closed-by-deactivation'

/** One exported visit. Local times are in the site's time zone; the day is the day of sign-in. */
export interface VisitExportRow {
  visitId: number
  personId: number
  firstName: string
  lastName: string
  /** Local day of sign-in (a visit across midnight belongs to the day it started). */
  date: string
  signedIn: string
  signedOut: string
  minutes: number | null
  status: VisitStatus
  signedInUtc: string
  signedOutUtc: string
}

/** Column headers for visit exports, in order. */
export const visitColumns: ExportColumn<VisitExportRow>[] = [
  { key: 'visitId', header: 'visit_id' },
  { key: 'personId', header: 'person_id' },
  { key: 'firstName', header: 'first_name' },
  { key: 'lastName', header: 'last_name' },
  { key: 'date', header: 'date' },
  { key: 'signedIn', header: 'signed_in' },
  { key: 'signedOut', header: 'signed_out' },
  { key: 'minutes', header: 'minutes' },
  { key: 'status', header: 'status' },
  { key: 'signedInUtc', header: 'signed_in_utc' },
  { key: 'signedOutUtc', header: 'signed_out_utc' },
]

/** One exported visitor's visit, marked as a visitor (`kind`), in the site's time zone like visits. */
export interface VisitorExportRow {
  kind: 'visitor'
  visitorId: number
  name: string
  company: string
  /** The host's name, or what the visitor typed when it matched no one (marked "as typed"). */
  host: string
  via: string
  kiosk: string
  date: string
  signedIn: string
  signedOut: string
  minutes: number | null
  status: 'open' | 'signed-out' | 'signed-out-by-reception' | 'auto-closed'
  noticeVersion: number | null
  signedInUtc: string
  signedOutUtc: string
}

/** Column headers for the visitors export, in order (no contact details or photos). */
export const visitorColumns: ExportColumn<VisitorExportRow>[] = [
  { key: 'kind', header: 'kind' },
  { key: 'visitorId', header: 'visitor_id' },
  { key: 'name', header: 'name' },
  { key: 'company', header: 'company' },
  { key: 'host', header: 'host' },
  { key: 'via', header: 'signed_in_via' },
  { key: 'kiosk', header: 'kiosk' },
  { key: 'date', header: 'date' },
  { key: 'signedIn', header: 'signed_in' },
  { key: 'signedOut', header: 'signed_out' },
  { key: 'minutes', header: 'minutes' },
  { key: 'status', header: 'status' },
  { key: 'noticeVersion', header: 'site_notice_version' },
  { key: 'signedInUtc', header: 'signed_in_utc' },
  { key: 'signedOutUtc', header: 'signed_out_utc' },
]

const visitorStatus = {
  visitor: 'signed-out',
  reception: 'signed-out-by-reception',
  auto: 'auto-closed',
} as const

/** Every visitor who signed in within the range, oldest first, as export rows. */
export async function visitorExportRows(
  db: Db,
  range: DateRange,
  site: ReportSite,
): Promise<VisitorExportRow[]> {
  const local = new LocalTime(site.timeZone)
  return (await listVisitorsSignedInBetween(db, range)).map((v) => ({
    kind: 'visitor',
    visitorId: v.id,
    name: v.name,
    company: v.company,
    host: hostLabel(v),
    via: v.via ?? '',
    kiosk: v.kioskName ?? '',
    date: local.day(v.signedInAt),
    signedIn: local.stamp(v.signedInAt),
    signedOut: v.signedOutAt === null ? '' : local.stamp(v.signedOutAt),
    minutes: v.signedOutAt === null ? null : Math.round((v.signedOutAt - v.signedInAt) / 60_000),
    status: v.signedOutAt === null ? 'open' : visitorStatus[v.closedBy ?? 'visitor'],
    noticeVersion: v.noticeId,
    signedInUtc: isoUtc(v.signedInAt),
    signedOutUtc: v.signedOutAt === null ? '' : isoUtc(v.signedOutAt),
  }))
}

/** One person's line of the summary (as the old `visits --summary`). */
export interface SummaryRow {
  personId: number
  firstName: string
  lastName: string
  daysInOffice: number
  daysNotSignedOut: number
  percentNotSignedOut: number
}

/** Column headers for summary exports, in order. */
export const summaryColumns: ExportColumn<SummaryRow>[] = [
  { key: 'personId', header: 'person_id' },
  { key: 'firstName', header: 'first_name' },
  { key: 'lastName', header: 'last_name' },
  { key: 'daysInOffice', header: 'days_in_office' },
  { key: 'daysNotSignedOut', header: 'days_not_signed_out' },
  { key: 'percentNotSignedOut', header: 'percent_not_signed_out' },
]

/** What a report needs from the site: its time zone and the current instant. */
export interface ReportSite {
  timeZone: string
  now: number
}

/** The status of a visit. */
export function visitStatus(v: Pick<ReportVisit, 'signed_out_at' | 'closed_by'>): VisitStatus {
  if (v.signed_out_at === null) return 'open'
  if (v.closed_by === 'auto') return 'auto-closed'
  if (v.closed_by === 'admin') return 'closed-by-admin'
  if (v.closed_by === 'directory') return 'closed-by-directory'
  if (v.closed_by === 'deactivated') return 'closed-by-deactivation'
  return 'signed-out'
}

/** Closed by nobody who saw them leave: the nightly auto-close, the directory (a leaver), a deactivation. */
const closedUnseen = (v: Pick<ReportVisit, 'closed_by'>): boolean =>
  v.closed_by === 'auto' || v.closed_by === 'directory' || v.closed_by === 'deactivated'

/**
 * True when a visit was not signed out by anyone who knew the time: auto-closed, or still open
 * from an earlier day. A visit open today is not counted (they may still be inside).
 */
function notSignedOut(v: ReportVisit, local: LocalTime, today: string): boolean {
  if (closedUnseen(v)) return true
  return v.signed_out_at === null && local.day(v.signed_in_at) !== today
}

/**
 * Visits per export page. Small enough that a page dies young (bigger pages survive a scavenge,
 * get promoted and grow the old generation: 2,000 rows peaked 150 MB higher over a million rows),
 * big enough that the query per page costs little.
 */
const EXPORT_PAGE = 500

/**
 * Every visit that started in the range, as export rows, oldest first, a page at a time (one
 * await per page rather than per row; exports write a page as one chunk).
 */
export async function* visitExportPages(
  db: Db,
  range: DateRange,
  site: ReportSite,
): AsyncGenerator<VisitExportRow[]> {
  const local = new LocalTime(site.timeZone)
  const names = new PersonNames(db)
  for await (const page of iterateVisitPages(db, range, EXPORT_PAGE)) {
    await names.load(page.map((v) => v.person_id))
    const rows: VisitExportRow[] = []
    for (const v of page) {
      const name = names.get(v.person_id)
      if (!name) continue
      rows.push({
        visitId: v.id,
        personId: v.person_id,
        firstName: name.first_name,
        lastName: name.last_name,
        date: local.day(v.signed_in_at),
        signedIn: local.stamp(v.signed_in_at),
        signedOut: v.signed_out_at === null ? '' : local.stamp(v.signed_out_at),
        minutes: v.signed_out_at === null ? null : Math.round((v.signed_out_at - v.signed_in_at) / 60_000),
        status: visitStatus(v),
        signedInUtc: isoUtc(v.signed_in_at),
        signedOutUtc: v.signed_out_at === null ? '' : isoUtc(v.signed_out_at),
      })
    }
    yield rows
  }
}

/** Every visit that started in the range, as export rows, oldest first, read page by page. */
export async function* visitExportRows(
  db: Db,
  range: DateRange,
  site: ReportSite,
): AsyncGenerator<VisitExportRow> {
  for await (const page of visitExportPages(db, range, site)) yield* page
}

/**
 * Per person: days in the office and days not signed out, by name. Visits arrive in sign-in
 * order, so each person's days arrive in order and counting needs only their last day seen:
 * memory grows with people, not with visits.
 */
export async function summaryRows(db: Db, range: DateRange, site: ReportSite): Promise<SummaryRow[]> {
  const people = new Map<
    number,
    {
      days: number
      lastDay: string
      notOut: number
      lastNotOutDay: string
    }
  >()
  const local = new LocalTime(site.timeZone)
  const today = local.day(site.now)
  for await (const v of iterateVisits(db, range)) {
    const day = local.day(v.signed_in_at)
    let p = people.get(v.person_id)
    if (!p) {
      p = { days: 0, lastDay: '', notOut: 0, lastNotOutDay: '' }
      people.set(v.person_id, p)
    }
    if (p.lastDay !== day) {
      p.days++
      p.lastDay = day
    }
    if (notSignedOut(v, local, today) && p.lastNotOutDay !== day) {
      p.notOut++
      p.lastNotOutDay = day
    }
  }
  const names = new PersonNames(db)
  await names.load(people.keys())
  const rows: SummaryRow[] = []
  for (const [personId, p] of people) {
    const name = names.get(personId)
    if (!name) continue
    rows.push({
      personId,
      firstName: name.first_name,
      lastName: name.last_name,
      daysInOffice: p.days,
      daysNotSignedOut: p.notOut,
      percentNotSignedOut: p.days ? Math.round((p.notOut / p.days) * 100) : 0,
    })
  }
  return rows.sort(
    (a, b) =>
      a.lastName.localeCompare(b.lastName) ||
      a.firstName.localeCompare(b.firstName) ||
      a.personId - b.personId,
  )
}

/** One day of the statistics. */
export interface DayStats {
  day: string
  weekday: number
  visitors: number
  notSignedOut: number
  /** Mean minutes over visits with a known end (signed out, or closed by an admin); null if none. */
  averageStayMinutes: number | null
}

/** The statistics page and `npm run stats`: per day, a weekday × hour heatmap, per person. */
export interface StatsReport {
  range: DateRange
  days: DayStats[]
  /** heatmap[weekday 0=Mon..6=Sun][hour 0..23]: average people present in that hour on that weekday. */
  heatmap: number[][]
  people: SummaryRow[]
  totals: { visits: number; visitors: number; averageStayMinutes: number | null }
}

const hourMs = 3_600_000

/**
 * Builds the statistics for a range from one pass over the visits. The heatmap counts each hour
 * a visit overlaps, for visits with a known end and for today's open visits up to now; an
 * auto-closed or forgotten visit counts only in its sign-in hour (nobody knows when they left).
 */
export async function buildStats(db: Db, range: DateRange, site: ReportSite): Promise<StatsReport> {
  const tz = site.timeZone
  const perDay = new Map<string, { people: Set<number>; notOut: Set<number>; stay: number; stays: number }>()
  const heat = Array.from({ length: 7 }, () => new Array<number>(24).fill(0))
  const everyone = new Set<number>()
  let visits = 0
  let staySum = 0
  let stayCount = 0
  const local = new LocalTime(tz)
  const today = local.day(site.now)
  for await (const v of iterateVisits(db, range)) {
    visits++
    everyone.add(v.person_id)
    const day = local.day(v.signed_in_at)
    let d = perDay.get(day)
    if (!d) {
      d = { people: new Set(), notOut: new Set(), stay: 0, stays: 0 }
      perDay.set(day, d)
    }
    d.people.add(v.person_id)
    if (notSignedOut(v, local, today)) d.notOut.add(v.person_id)
    const known = v.signed_out_at !== null && !closedUnseen(v)
    if (known) {
      const minutes = (v.signed_out_at! - v.signed_in_at) / 60_000
      d.stay += minutes
      d.stays++
      staySum += minutes
      stayCount++
    }
    const end = known
      ? v.signed_out_at!
      : v.signed_out_at === null && day === today
        ? Math.min(site.now, endOfLocalDay(day, tz))
        : v.signed_in_at
    for (const slot of local.hours(v.signed_in_at, Math.min(end, v.signed_in_at + 48 * hourMs))) {
      heat[slot.weekday]![slot.hour]!++
    }
  }
  const days: DayStats[] = []
  const weekdayCount = new Array<number>(7).fill(0)
  for (const day of daysOf(range, tz)) {
    const weekday = DateTime.fromISO(day, { zone: tz }).weekday - 1
    weekdayCount[weekday]!++
    const d = perDay.get(day)
    days.push({
      day,
      weekday,
      visitors: d?.people.size ?? 0,
      notSignedOut: d?.notOut.size ?? 0,
      averageStayMinutes: d?.stays ? Math.round(d.stay / d.stays) : null,
    })
  }
  const heatmap = heat.map((hours, w) =>
    hours.map((n) => (weekdayCount[w] ? Math.round((n / weekdayCount[w]!) * 10) / 10 : 0)),
  )
  return {
    range,
    days,
    heatmap,
    people: await summaryRows(db, range, site),
    totals: {
      visits,
      visitors: everyone.size,
      averageStayMinutes: stayCount ? Math.round(staySum / stayCount) : null,
    },
  }
}
