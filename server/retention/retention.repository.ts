import { type RawBuilder, sql } from 'kysely'
import { type Db, dialectOf } from '../db/connect.js'
import { rowIdentity } from '../db/dialect-sql.js'

/** The column names of a table; empty when the table does not exist. */
export async function tableColumns(db: Db, table: string): Promise<string[]> {
  const tables = await db.introspection.getTables()
  return tables.find((t) => t.name === table && !t.isView)?.columns.map((c) => c.name) ?? []
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
  const row = rowIdentity(db)
  const batch = sql`select ${row} from ${t} where ${where} limit ${limit}`
  // PostgreSQL finds rows by ctid fast only through `= any(array(...))`, not `in (select ...)`.
  const result =
    dialectOf(db) === 'postgres'
      ? await sql`delete from ${t} where ${row} = any(array(${batch}))`.execute(db)
      : await sql`delete from ${t} where ${row} in (${batch})`.execute(db)
  return Number(result.numAffectedRows ?? 0)
}

/**
 * SQLite: copies what the WAL holds into the database file without waiting for anyone (PASSIVE),
 * so the WAL restarts small; a no-op for a database not in WAL mode. PostgreSQL manages its own
 * WAL and vacuums deleted rows by itself: nothing to do.
 */
export async function checkpointWal(db: Db): Promise<void> {
  if (dialectOf(db) === 'sqlite') await sql`pragma wal_checkpoint(PASSIVE)`.execute(db)
}

/** The instants rows are compared with: the retention horizon, and "a day ago" for short-lived rows. */
export interface Cutoffs {
  /** now − RETENTION_DAYS */
  retention: number
  /** now − 24 hours */
  day: number
  /** now − 7 days */
  week: number
  /** now − VISITOR_RETENTION_DAYS: visitors' personal data has its own, shorter period. */
  visitor: number
  /**
   * now − the longest FIRE_LIST_AUTO_CLOSED_HOURS: a visit (or visitor) the auto-close closed after
   * this may still be on the fire list as Unconfirmed, so no period, however short, deletes it.
   */
  autoClosed: number
}

/**
 * Not a visit closed unseen (the auto-close, the directory, a deactivation) recently enough for the
 * fire list to show it as Unconfirmed: counted, as the fire list counts, from when the register
 * closed it (`closed_at`; its end for one closed before that column existed), not from its end,
 * which the auto-close back-dates for a visit begun on an earlier day.
 */
const notListedAutoClosed = (c: Cutoffs) =>
  sql`not (closed_by in ('auto', 'directory', 'deactivated') and coalesce(closed_at, signed_out_at) >= ${c.autoClosed})`

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
    // With the visit go its photo, contacts, notice acceptance and roll-call copies (cascade).
    table: 'visitor',
    label:
      'visitors (and their photos) whose visit ended, or invitation lapsed, before the visitor retention period',
    columns: ['signed_in_at', 'signed_out_at', 'created_at', 'expected_day', 'closed_by', 'closed_at'],
    // An invitation lapses once its day (UTC is close enough for a period of days) is past the period.
    where: (c) =>
      sql`(signed_out_at is not null and signed_out_at < ${c.visitor} and ${notListedAutoClosed(c)}) or (signed_in_at is null and created_at < ${c.visitor} and (expected_day is null or expected_day < ${new Date(c.visitor).toISOString().slice(0, 10)}))`,
  },
  {
    table: 'visit',
    label: 'closed visits older than the retention period',
    columns: ['signed_in_at', 'signed_out_at', 'closed_by', 'closed_at'],
    where: (c) =>
      sql`signed_out_at is not null and signed_in_at < ${c.retention} and ${notListedAutoClosed(c)}`,
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
    label:
      'message log rows older than the retention period (visitor invitations: the visitor retention period)',
    columns: ['created_at', 'purpose'],
    // An invitation's row holds the visitor's contact: it goes with the visitor's other data.
    where: (c) =>
      sql`created_at < ${c.retention} or (purpose = 'visitor-invitation' and created_at < ${c.visitor})`,
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
    // Names and contacts of people invited in bulk: gone once the link has been dead a retention period.
    table: 'invitation',
    label: 'invitations expired longer ago than the retention period',
    columns: ['expires_at'],
    where: (c) => sql`expires_at < ${c.retention}`,
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
  {
    // The embedded scheduler's claims, about four a day. Catch-up reads only a schedule's latest
    // occurrence and whether it ran here before: a daily schedule's claims of the last week answer
    // that whatever the period, and a schedule removed (or off) longer than that leaves nothing.
    table: 'job_run',
    label: 'scheduled runs claimed longer ago than the retention period (and a week)',
    columns: ['due_at'],
    where: (c) => sql`due_at < ${c.retention} and due_at < ${c.week}`,
  },
]
