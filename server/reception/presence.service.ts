import type { Db } from '../db/connect.js'
import type { ClosedBy } from '../db/database.js'
import { localDay, startOfLocalDay } from '../lib/site-time.js'
import { listOpenVisitsWithPeople, listVisitsClosedSince } from './presence.repository.js'

/** Someone in the building now. */
export interface PersonInside {
  personId: number
  firstName: string
  lastName: string
  since: number
  /** False when the visit was left open on an earlier day: they may well have gone home. */
  confirmed: boolean
}

/** Someone who left today and is not back. */
export interface PersonDeparted {
  personId: number
  firstName: string
  lastName: string
  leftAt: number
  /** True when the visit ended before today (only auto-closed ones from yesterday are listed). */
  earlier: boolean
  closedBy: ClosedBy
  /** False when the system closed the visit, not the person. */
  confirmed: boolean
}

/** What the reception board shows: the count of people (not visits), who is in, who left today. */
export interface PresenceBoard {
  count: number
  inside: PersonInside[]
  departed: PersonDeparted[]
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

/** Everyone inside now, sorted by name, one entry per person. */
export async function peopleInside(db: Db, now: number, timeZone: string): Promise<PersonInside[]> {
  const startOfToday = startOfLocalDay(localDay(now, timeZone), timeZone)
  const seen = new Set<number>()
  const inside: PersonInside[] = []
  for (const row of await listOpenVisitsWithPeople(db)) {
    // The database allows one open visit per person; this keeps the count honest regardless.
    if (seen.has(row.personId)) continue
    seen.add(row.personId)
    inside.push({
      personId: row.personId,
      firstName: row.firstName,
      lastName: row.lastName,
      since: row.signedInAt,
      confirmed: row.signedInAt >= startOfToday,
    })
  }
  return inside.sort(byName)
}

/** The presence board at an instant: who is inside, and who left today (greyed on the page). */
export async function presenceBoard(db: Db, now: number, timeZone: string): Promise<PresenceBoard> {
  const inside = await peopleInside(db, now, timeZone)
  const insideIds = new Set(inside.map((p) => p.personId))
  const departed: PersonDeparted[] = []
  const seen = new Set<number>()
  const today = localDay(now, timeZone)
  const startOfToday = startOfLocalDay(today, timeZone)
  const yesterday = localDay(startOfToday - 1, timeZone)
  // The nightly auto-close closes visits at the end of their own day, so yesterday's auto-closed
  // visits are shown too: those people may still be inside.
  for (const row of await listVisitsClosedSince(db, startOfLocalDay(yesterday, timeZone))) {
    if (insideIds.has(row.personId) || seen.has(row.personId)) continue
    if (row.signedOutAt < startOfToday && row.closedBy !== 'auto') continue
    seen.add(row.personId)
    departed.push({
      personId: row.personId,
      firstName: row.firstName,
      lastName: row.lastName,
      leftAt: row.signedOutAt,
      earlier: row.signedOutAt < startOfToday,
      closedBy: row.closedBy,
      confirmed: row.closedBy !== 'auto',
    })
  }
  return { count: insideIds.size, inside, departed: departed.sort(byName) }
}
