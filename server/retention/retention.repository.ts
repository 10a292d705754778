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

/** The instants rows are compared with: the retention horizon, and "a day ago" for short-lived rows. */
export interface Cutoffs {
  /** now − RETENTION_DAYS */
  retention: number
  /** now − 24 hours */
  day: number
  /** now − 7 days */
  week: number
}

/**
 * One kind of data that expires: the table, the columns its condition reads, and the condition.
 * A rule whose table or columns do not exist (yet) is skipped, so a table added by another feature
 * can be listed here before its migration lands.
 */
export interface RetentionRule {
  table: string
  label: string
  columns: readonly string[]
  where(cutoffs: Cutoffs): RawBuilder<unknown>
}

/**
 * What retention removes. People are never removed (a person with no visits is still staff), so
 * admins can never be lost to a purge; only their old visits, audit rows and dead secrets go.
 */
export const retentionRules: readonly RetentionRule[] = [
  {
    table: 'visit',
    label: 'closed visits older than the retention period',
    columns: ['signed_in_at', 'signed_out_at'],
    where: (c) => sql`signed_out_at is not null and signed_in_at < ${c.retention}`,
  },
  {
    table: 'reminder',
    label: 'reminders older than the retention period',
    columns: ['created_at'],
    where: (c) => sql`created_at < ${c.retention}`,
  },
  {
    table: 'audit_event',
    label: 'audit rows older than the retention period',
    columns: ['at'],
    where: (c) => sql`at < ${c.retention}`,
  },
  {
    table: 'message',
    label: 'message log rows older than the retention period',
    columns: ['created_at'],
    where: (c) => sql`created_at < ${c.retention}`,
  },
  {
    table: 'login_code',
    label: 'one-time codes expired for over a day',
    columns: ['expires_at'],
    where: (c) => sql`expires_at < ${c.day}`,
  },
  {
    table: 'device',
    label: 'devices revoked longer ago than the retention period',
    columns: ['revoked_at'],
    where: (c) => sql`revoked_at is not null and revoked_at < ${c.retention}`,
  },
  {
    table: 'idempotency_key',
    label: 'idempotency keys older than a day',
    columns: ['created_at'],
    where: (c) => sql`created_at < ${c.day}`,
  },
  {
    table: 'outbox',
    label: 'Slack events handed on over a week ago',
    columns: ['relayed_at'],
    where: (c) => sql`relayed_at is not null and relayed_at < ${c.week}`,
  },
]
