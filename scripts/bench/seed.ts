import { connect } from '../../server/db/connect.js'
import { migrateToLatest } from '../../server/db/migrate.js'
import { hashToken, newToken } from '../../server/identity/secrets.js'
import { localDay, startOfLocalDay } from '../../server/lib/site-time.js'
import { BENCH_TIME_ZONE } from './web-process.js'

/** People with tokens (usable as bearer tokens and as the device cookie); the first is an admin. */
export interface Seeded {
  tokens: string[]
  inside: number
}

const DAY = 86_400_000

/**
 * Creates a throwaway database with `people` people, each holding one API device token, `inside`
 * of them signed in today (an hour ago, or at local midnight if that was later: a visit left from
 * yesterday is a different page and a different presence), plus `oldVisits` closed visits spread
 * over the past `oldDaysFrom`…`oldDaysTo` days. Inserts in one transaction through better-sqlite3
 * directly: the seed is not what is measured.
 */
export async function seed(
  path: string,
  options: { people: number; inside: number; oldVisits?: number; oldDaysFrom?: number; oldDaysTo?: number },
  now = Date.now(),
): Promise<Seeded> {
  const { people, inside, oldVisits = 0, oldDaysFrom = 1, oldDaysTo = 365 } = options
  const { db, sqlite } = connect(path)
  await migrateToLatest(db)
  const tokens: string[] = []
  const signedInAt = Math.max(now - 3_600_000, startOfLocalDay(localDay(now, BENCH_TIME_ZONE), BENCH_TIME_ZONE))
  const person = sqlite.prepare(
    'insert into person (first_name, last_name, created_at, updated_at, role) values (?, ?, ?, ?, ?)',
  )
  const contact = sqlite.prepare(
    "insert into contact (person_id, kind, value, verified_at, created_at) values (?, 'email', ?, ?, ?)",
  )
  const device = sqlite.prepare(
    "insert into device (person_id, kind, token_hash, name, user_agent, created_at, last_used_at) values (?, 'api', ?, 'bench', 'bench', ?, ?)",
  )
  const visit = sqlite.prepare(
    'insert into visit (person_id, signed_in_at, signed_out_at, closed_by) values (?, ?, ?, ?)',
  )
  sqlite.transaction(() => {
    for (let i = 0; i < people; i++) {
      const role = i === 0 ? 'admin' : 'staff'
      const id = Number(person.run(`First${i}`, `Last${String(i).padStart(5, '0')}`, now, now, role).lastInsertRowid)
      contact.run(id, `person${i}@bench.example`, now, now)
      const token = newToken()
      device.run(id, hashToken(token), now, now)
      tokens.push(token)
      if (i < inside) visit.run(id, signedInAt, null, null)
    }
    const span = (oldDaysTo - oldDaysFrom) * DAY
    for (let v = 0; v < oldVisits; v++) {
      const start = now - oldDaysFrom * DAY - Math.floor((v / oldVisits) * span)
      visit.run((v % people) + 1, start, start + 8 * 3_600_000, v % 10 === 0 ? 'auto' : 'person')
    }
  })()
  await db.destroy()
  return { tokens, inside }
}
