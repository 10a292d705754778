import { connect, connectPostgres } from '../../server/db/connect.js'
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

/** How many people (the first `inside` of them signed in today) and old visits to make. */
interface SeedOptions {
  people: number
  inside: number
  oldVisits?: number
  oldDaysFrom?: number
  oldDaysTo?: number
}

const signedInToday = (now: number) =>
  Math.max(now - 3_600_000, startOfLocalDay(localDay(now, BENCH_TIME_ZONE), BENCH_TIME_ZONE))

/**
 * Creates a throwaway database with `people` people, each holding one API device token, `inside`
 * of them signed in today (an hour ago, or at local midnight if that was later: a visit left from
 * yesterday is a different page and a different presence), plus `oldVisits` closed visits spread
 * over the past `oldDaysFrom`…`oldDaysTo` days. `path` is a SQLite file, or a postgres:// URL of
 * an empty database. SQLite: inserts in one transaction through better-sqlite3 directly; PostgreSQL:
 * in batches of many rows per statement. The seed is not what is measured.
 */
export async function seed(
  path: string,
  options: SeedOptions,
  now = Date.now(),
): Promise<Seeded> {
  if (path.startsWith('postgres')) return seedPostgres(path, options, now)
  const { people, inside, oldVisits = 0, oldDaysFrom = 1, oldDaysTo = 365 } = options
  const { db, sqlite } = connect(path)
  await migrateToLatest(db)
  const tokens: string[] = []
  const signedInAt = signedInToday(now)
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

async function seedPostgres(url: string, options: SeedOptions, now: number): Promise<Seeded> {
  const { people, inside, oldVisits = 0, oldDaysFrom = 1, oldDaysTo = 365 } = options
  const { db } = connectPostgres(url, { poolSize: 1 })
  await migrateToLatest(db)
  const tokens: string[] = []
  const signedInAt = signedInToday(now)
  const BATCH = 1_000
  for (let from = 0; from < people; from += BATCH) {
    const count = Math.min(BATCH, people - from)
    const ids = await db
      .insertInto('person')
      .values(
        Array.from({ length: count }, (_, k) => ({
          first_name: `First${from + k}`,
          last_name: `Last${String(from + k).padStart(5, '0')}`,
          created_at: now,
          updated_at: now,
          role: from + k === 0 ? ('admin' as const) : ('staff' as const),
        })),
      )
      .returning('id')
      .execute()
    const batchTokens = ids.map(() => newToken())
    tokens.push(...batchTokens)
    await db
      .insertInto('contact')
      .values(
        ids.map(({ id }, k) => ({
          person_id: id,
          kind: 'email' as const,
          value: `person${from + k}@bench.example`,
          verified_at: now,
          created_at: now,
        })),
      )
      .execute()
    await db
      .insertInto('device')
      .values(
        ids.map(({ id }, k) => ({
          person_id: id,
          kind: 'api' as const,
          token_hash: hashToken(batchTokens[k]!),
          name: 'bench',
          user_agent: 'bench',
          created_at: now,
          last_used_at: now,
        })),
      )
      .execute()
    const inNow = ids.filter((_, k) => from + k < inside)
    if (inNow.length > 0) {
      await db
        .insertInto('visit')
        .values(inNow.map(({ id }) => ({ person_id: id, signed_in_at: signedInAt, signed_out_at: null, closed_by: null })))
        .execute()
    }
  }
  const span = (oldDaysTo - oldDaysFrom) * DAY
  for (let from = 0; from < oldVisits; from += BATCH) {
    const count = Math.min(BATCH, oldVisits - from)
    await db
      .insertInto('visit')
      .values(
        Array.from({ length: count }, (_, k) => {
          const v = from + k
          const start = now - oldDaysFrom * DAY - Math.floor((v / oldVisits) * span)
          return {
            person_id: (v % people) + 1,
            signed_in_at: start,
            signed_out_at: start + 8 * 3_600_000,
            closed_by: v % 10 === 0 ? ('auto' as const) : ('person' as const),
          }
        }),
      )
      .execute()
  }
  await db.destroy()
  return { tokens, inside }
}
