import { sql } from 'kysely'
import type { Db } from '../db/connect.js'

/**
 * Every row of every table as one comparable text: two equal snapshots mean nothing in the
 * database changed in between (Kysely's migration bookkeeping left out).
 */
export async function databaseSnapshot(db: Db): Promise<string> {
  const tables = (await db.introspection.getTables())
    .filter((t) => !t.isView && !t.name.startsWith('kysely_'))
    .map((t) => t.name)
    .sort()
  const snapshot: Record<string, string[]> = {}
  for (const table of tables) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)
    snapshot[table] = rows
      .map((row) => JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? String(value) : value)))
      .sort()
  }
  return JSON.stringify(snapshot)
}
