import { type RawBuilder, sql } from 'kysely'
import type { Db } from '../db/connect.js'

/** The column names of a table; empty when the table does not exist. */
export async function tableColumns(db: Db, table: string): Promise<string[]> {
  const result = await sql<{ name: string }>`select name from pragma_table_info(${table})`.execute(db)
  return result.rows.map((r) => r.name)
}

/** How many rows of a table match a condition. */
export async function countWhere(db: Db, table: string, where: RawBuilder<unknown>): Promise<number> {
  const result = await sql<{
    n: number
  }>`select count(*) as n from ${sql.table(table)} where ${where}`.execute(db)
  return Number(result.rows[0]?.n ?? 0)
}

/** Deletes at most `limit` matching rows in one short statement; returns how many went. */
export async function deleteBatchWhere(
  db: Db,
  table: string,
  where: RawBuilder<unknown>,
  limit: number,
): Promise<number> {
  const t = sql.table(table)
  const result =
    await sql`delete from ${t} where rowid in (select rowid from ${t} where ${where} limit ${limit})`.execute(
      db,
    )
  return Number(result.numAffectedRows ?? 0)
}

/**
 * Copies what the WAL holds into the database file without waiting for anyone (PASSIVE), so the WAL
 * restarts small. A no-op for a database not in WAL mode.
 */
export async function checkpointWal(db: Db): Promise<void> {
  await sql`pragma wal_checkpoint(PASSIVE)`.execute(db)
}
