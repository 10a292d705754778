import type { TestContext } from 'node:test'
import { sql } from 'kysely'
import { connectPostgres, type Db } from '../db/connect.js'
import { freshPostgresDatabase } from './test-database.js'

/** A promise and what resolves it: one side of a race holds until the test says go. */
export function latch(): { reached: Promise<void>; open: () => void } {
  let open!: () => void
  const reached = new Promise<void>((resolve) => {
    open = resolve
  })
  return { reached, open }
}

/** True while a statement on this PostgreSQL database waits for a lock another transaction holds. */
export async function someoneWaitsForALock(db: Db): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`.execute(db)
  return Number(rows[0]!.n) > 0
}

/**
 * A pool of several connections on a fresh, migrated PostgreSQL database, closed and dropped when
 * the test ends: two transactions of one test race on it as two web processes would.
 */
export async function racingPostgres(t: TestContext, poolSize = 4): Promise<Db> {
  const database = await freshPostgresDatabase()
  const { db } = connectPostgres(database.url, { poolSize })
  t.after(async () => {
    await db.destroy()
    await database.drop()
  })
  return db
}
