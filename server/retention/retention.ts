import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import { FIRE_LIST_AUTO_CLOSED_MAX_HOURS } from '../config.js'
import type { Db } from '../db/connect.js'
import {
  type Cutoffs,
  checkpointWal,
  countWhere,
  deleteBatchWhere,
  type RetentionRule,
  retentionRules,
  tableColumns,
} from './retention.repository.js'

export type { Cutoffs, RetentionRule }
export { retentionRules }

const HOUR_MS = 60 * 60_000
const DAY_MS = 24 * HOUR_MS

/** How many rows one rule removed (or would remove, in a dry run). */
export interface PurgeCount {
  table: string
  label: string
  rows: number
  skipped?: 'no such table'
}

/**
 * The most rows one delete statement removes. Batches start smaller and adapt (see purgeExpired) so
 * that one statement holds SQLite's write lock for about PURGE_BATCH_TARGET_MS: the web process
 * waits for that lock inside a synchronous call, blocking its event loop for as long as it waits.
 */
export const PURGE_BATCH = 500
/** The first batch, before anything was measured. */
export const PURGE_FIRST_BATCH = 100
/** The smallest batch, however slow the disk. */
export const PURGE_MIN_BATCH = 10
/** How long one delete statement should hold the write lock. */
export const PURGE_BATCH_TARGET_MS = 10
/**
 * The least pause between batches (and never shorter than the batch took): a writer in another
 * process sleeps in SQLite's busy handler (1, 2, 5, 10… ms) and must find the lock free when it wakes.
 */
export const PURGE_PAUSE_MS = 10

/** The next batch size from the last one and how long it took: aim at the target, grow at most ×2. */
export function nextBatchSize(batch: number, elapsedMs: number): number {
  const scaled = Math.floor((batch * PURGE_BATCH_TARGET_MS) / Math.max(elapsedMs, 0.1))
  return Math.max(PURGE_MIN_BATCH, Math.min(PURGE_BATCH, 2 * batch, scaled))
}

/** The cut-off instants for a retention period (and the visitors' own period) at `now`. */
export function cutoffs(now: number, days: number, visitorDays = days): Cutoffs {
  return {
    retention: now - days * DAY_MS,
    day: now - DAY_MS,
    week: now - 7 * DAY_MS,
    visitor: now - Math.min(days, visitorDays) * DAY_MS,
    autoClosed: now - FIRE_LIST_AUTO_CLOSED_MAX_HOURS * HOUR_MS,
  }
}

/**
 * Deletes everything past its age in short, time-bounded batches and audits the purge with its
 * counts. Between batches it checkpoints the WAL (so no web request's commit inherits a long
 * checkpoint of the purge's pages) and pauses, leaving the write lock and the event loop free for
 * the web process. A dry run only counts (and is not audited: nothing changed).
 */
export async function purgeExpired(
  db: Db,
  options: {
    now: number
    days: number
    /** VISITOR_RETENTION_DAYS (never longer than `days`); `days` when not given. */
    visitorDays?: number
    dryRun: boolean
    context: RequestContext
    rules?: readonly RetentionRule[]
    onProgress?: (done: number, total: number) => void
  },
): Promise<PurgeCount[]> {
  const c = cutoffs(options.now, options.days, options.visitorDays)
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
    let batch = PURGE_FIRST_BATCH
    for (;;) {
      const started = performance.now()
      const n = await deleteBatchWhere(db, rule.table, rule.where(c), batch)
      const elapsed = performance.now() - started
      deleted += n
      done += n
      options.onProgress?.(Math.min(done, total), total)
      if (n < batch) break
      batch = nextBatchSize(batch, elapsed)
      // Run in-process (embedded mode), the delete and the checkpoint are two separate event-loop turns.
      await new Promise((resolve) => setImmediate(resolve))
      await checkpointWal(db)
      await new Promise((resolve) => setTimeout(resolve, Math.max(PURGE_PAUSE_MS, elapsed)))
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
        visitorDays: Math.min(options.days, options.visitorDays ?? options.days),
        deleted: Object.fromEntries(counts.filter((x) => !x.skipped).map((x) => [x.table, x.rows])),
      },
    })
  }
  return counts
}
