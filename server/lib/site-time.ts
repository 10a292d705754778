import { DateTime } from 'luxon'

/** Where "now" comes from; tests pass a clock they can move. */
export interface Clock {
  now(): number
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() }

// The days last asked for, per zone, each with its first and last instant: nearly every caller asks
// about today or, for a visit left open overnight, a recent earlier day, and building a zoned DateTime
// costs more than the rest of a sign-in's own code. Remembering only one day made a page that
// compares yesterday's visit with today rebuild both on every request.
const recentDays = new Map<string, { day: string; start: number; end: number }[]>()
const RECENT_DAYS_PER_ZONE = 8

/** The local calendar day (yyyy-mm-dd) of an instant in the site's time zone. */
export function localDay(ms: number, timeZone: string): string {
  let days = recentDays.get(timeZone)
  if (days) for (const d of days) if (ms >= d.start && ms <= d.end) return d.day
  const at = DateTime.fromMillis(ms, { zone: timeZone })
  const day = at.toISODate()!
  if (!at.isValid) return day
  if (!days) {
    days = []
    recentDays.set(timeZone, days)
  }
  days.unshift({ day, start: at.startOf('day').toMillis(), end: at.endOf('day').toMillis() })
  if (days.length > RECENT_DAYS_PER_ZONE) days.pop()
  return day
}

/** The instant a local calendar day starts (00:00 local; DST-aware). */
export function startOfLocalDay(day: string, timeZone: string): number {
  return DateTime.fromISO(day, { zone: timeZone }).startOf('day').toMillis()
}

/** The last millisecond of a local calendar day. */
export function endOfLocalDay(day: string, timeZone: string): number {
  return DateTime.fromISO(day, { zone: timeZone }).endOf('day').toMillis()
}

/** The instant of a wall-clock time (HH:mm) on a local day, or null if either is malformed. */
export function localDateTime(day: string, time: string, timeZone: string): number | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || !/^\d{2}:\d{2}$/.test(time)) return null
  const dt = DateTime.fromISO(`${day}T${time}`, { zone: timeZone })
  return dt.isValid ? dt.toMillis() : null
}

// One formatter per zone: building a zoned luxon DateTime per "since 09:05" cost 5% of a home page.
const timeFormats = new Map<string, Intl.DateTimeFormat>()

/** "09:05" in the site's time zone. */
export function formatTime(ms: number, timeZone: string): string {
  let format = timeFormats.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    timeFormats.set(timeZone, format)
  }
  return format.format(ms)
}

// "Fri 20 Nov" per zone and local day: a page showing a visit left open yesterday formats that day
// on every render, and a zoned luxon format cost 8% of such a page.
const dayLabels = new Map<string, string>()

/** "Fri 20 Nov" in the site's time zone. */
export function formatDay(ms: number, timeZone: string): string {
  const key = `${timeZone} ${localDay(ms, timeZone)}`
  let label = dayLabels.get(key)
  if (label === undefined) {
    label = DateTime.fromMillis(ms, { zone: timeZone }).toFormat('ccc d LLL')
    if (dayLabels.size >= 1_000) dayLabels.clear()
    dayLabels.set(key, label)
  }
  return label
}

/** "Fri 20 Nov 2026, 09:05" in the site's time zone. */
export function formatDateTime(ms: number, timeZone: string): string {
  return DateTime.fromMillis(ms, { zone: timeZone }).toFormat('ccc d LLL yyyy, HH:mm')
}

// "yyyy-mm-ddTHH:" per UTC hour: Date#toISOString was a third of the work of exporting a visit.
const hourPrefixes = new Map<number, string>()
const HOUR = 3_600_000

/** ISO-8601 in UTC, for JSON and exports: exactly Date#toISOString, with the hour's prefix memoised. */
export function isoUtc(ms: number): string {
  const hour = Math.floor(ms / HOUR)
  let prefix = hourPrefixes.get(hour)
  if (prefix === undefined) {
    const full = new Date(ms).toISOString()
    prefix = full.slice(0, full.indexOf('T') + 4)
    if (hourPrefixes.size >= 20_000) hourPrefixes.clear()
    hourPrefixes.set(hour, prefix)
  }
  const inHour = ms - hour * HOUR
  const minute = Math.floor(inHour / 60_000)
  const second = Math.floor(inHour / 1000) % 60
  const milli = inHour % 1000
  return `${prefix}${minute < 10 ? '0' : ''}${minute}:${second < 10 ? '0' : ''}${second}.${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`
}
