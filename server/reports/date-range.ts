import { DateTime } from 'luxon'
import { UserError } from '../lib/errors.js'
import { localDay, startOfLocalDay } from '../lib/site-time.js'

/** An inclusive range of local calendar days and the instants it covers ([fromMs, toMs)). */
export interface DateRange {
  from: string
  to: string
  fromMs: number
  toMs: number
  days: number
}

/** The longest range a report may cover. */
export const MAX_RANGE_DAYS = 3700

function readDay(value: unknown, label: string, timeZone: string): string | undefined {
  if (value === undefined || value === '') return undefined
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value.trim())) {
    throw new UserError(400, `The “${label}” date must look like 2026-11-23 (year-month-day).`)
  }
  const day = value.trim()
  const parsed = DateTime.fromISO(day, { zone: timeZone })
  if (!parsed.isValid || parsed.toISODate() !== day) {
    throw new UserError(400, `The “${label}” date ${day} does not exist in the calendar.`)
  }
  if (parsed.year < 2000 || parsed.year > 2200) {
    throw new UserError(400, `The “${label}” date must be between the years 2000 and 2200.`)
  }
  return day
}

/**
 * Reads a from/to pair of local days (both inclusive) in the site's time zone. A missing `to` is
 * today; a missing `from` is 29 days before `to`. Anything unusable is a 400 with a human message.
 */
export function parseDateRange(
  input: { from?: unknown; to?: unknown },
  site: { timeZone: string; now: number },
): DateRange {
  const tz = site.timeZone
  const to = readDay(input.to, 'to', tz) ?? localDay(site.now, tz)
  const from =
    readDay(input.from, 'from', tz) ?? DateTime.fromISO(to, { zone: tz }).minus({ days: 29 }).toISODate()!
  if (from > to)
    throw new UserError(400, `The “from” date (${from}) must not be after the “to” date (${to}).`)
  const fromMs = startOfLocalDay(from, tz)
  const next = DateTime.fromISO(to, { zone: tz }).plus({ days: 1 }).toISODate()!
  const toMs = startOfLocalDay(next, tz)
  const days = Math.round(
    DateTime.fromISO(next, { zone: 'UTC' }).diff(DateTime.fromISO(from, { zone: 'UTC' }), 'days').days,
  )
  if (days > MAX_RANGE_DAYS) {
    throw new UserError(400, `That range is ${days} days long; choose at most ${MAX_RANGE_DAYS} days.`)
  }
  return { from, to, fromMs, toMs, days }
}

/** Every local day of a range, in order. */
export function* daysOf(range: DateRange, timeZone: string): Generator<string> {
  let day = DateTime.fromISO(range.from, { zone: timeZone })
  for (let i = 0; i < range.days; i++) {
    yield day.toISODate()!
    day = day.plus({ days: 1 })
  }
}
