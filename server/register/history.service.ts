import type { Db } from '../db/connect.js'
import type { Visit } from '../db/database.js'
import { localDay, startOfLocalDay } from '../lib/site-time.js'
import { listVisitsForPerson } from './visit.repository.js'

/** How far back a person's own history page looks. */
export const HISTORY_DAYS = 30

/** A person's own visits of the last HISTORY_DAYS local days, newest first. */
export async function ownHistory(db: Db, personId: number, now: number, timeZone: string): Promise<Visit[]> {
  const from = startOfLocalDay(localDay(now - HISTORY_DAYS * 24 * 3600_000, timeZone), timeZone)
  return listVisitsForPerson(db, personId, from, now + 1)
}
