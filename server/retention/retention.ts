import { type RawBuilder, sql } from 'kysely'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import { countWhere, deleteBatchWhere, tableColumns } from './retention.repository.js'

const DAY_MS = 24 * 60 * 60_000

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

/** How many rows one rule removed (or would remove, in a dry run). */
export interface PurgeCount {
  table: string
  label: string
  rows: number
  skipped?: 'no such table'
}

/** Rows deleted per statement: small, so the web process never waits long for the write lock. */
export const PURGE_BATCH = 500

/** The cut-off instants for a retention period at `now`. */
export function cutoffs(now: number, days: number): Cutoffs {
  return { retention: now - days * DAY_MS, day: now - DAY_MS, week: now - 7 * DAY_MS }
}

/**
 * Deletes everything past its age in small batches, yielding to the event loop between them, and
 * audits the purge with its counts. A dry run only counts (and is not audited: nothing changed).
 */
export async function purgeExpired(
  db: Db,
  options: {
    now: number
    days: number
    dryRun: boolean
    context: RequestContext
    rules?: readonly RetentionRule[]
    onProgress?: (done: number, total: number) => void
  },
): Promise<PurgeCount[]> {
  const c = cutoffs(options.now, options.days)
  const rules = options.rules ?? retentionRules
  const counts: PurgeCount[] = []
  const plans: { rule: RetentionRule; rows: number }[] = []
  for (const rule of rules) {
    const columns = await tableColumns(db, rule.table)
    if (columns.length === 0 || rule.columns.some((col) => !columns.includes(col))) {
      counts.push({ table: rule.table, label: rule.label, rows: 0, skipped: 'no such table' })
      continue
    }
    plans.push({ rule, rows: await countWhere(db, rule.table, rule.where(c)) })
  }
  const total = plans.reduce((sum, p) => sum + p.rows, 0)
  let done = 0
  options.onProgress?.(0, total)
  for (const { rule, rows } of plans) {
    if (options.dryRun) {
      counts.push({ table: rule.table, label: rule.label, rows })
      continue
    }
    let deleted = 0
    for (;;) {
      const n = await deleteBatchWhere(db, rule.table, rule.where(c), PURGE_BATCH)
      deleted += n
      done += n
      options.onProgress?.(Math.min(done, total), total)
      if (n < PURGE_BATCH) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    counts.push({ table: rule.table, label: rule.label, rows: deleted })
  }
  counts.sort(
    (a, b) => rules.findIndex((r) => r.table === a.table) - rules.findIndex((r) => r.table === b.table),
  )
  if (!options.dryRun) {
    await recordAudit(db, {
      at: options.now,
      personId: null,
      action: 'retention.purged',
      context: options.context,
      detail: {
        days: options.days,
        deleted: Object.fromEntries(counts.filter((x) => !x.skipped).map((x) => [x.table, x.rows])),
      },
    })
  }
  return counts
}
