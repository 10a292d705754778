import { type PurgeCount, purgeExpired } from '../server/retention/retention.js'
import { type TaskContext, taskAuditContext } from './task-context.js'

/**
 * Applies retention (RETENTION_DAYS unless `days` is given; visitors' data after
 * VISITOR_RETENTION_DAYS, or `days` if shorter); a dry run only counts.
 */
export async function purge(
  ctx: TaskContext,
  options: { days?: number; dryRun?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<PurgeCount[]> {
  const counts = await purgeExpired(ctx.db, {
    now: ctx.clock.now(),
    days: options.days ?? ctx.config.RETENTION_DAYS,
    visitorDays: ctx.config.VISITOR_RETENTION_DAYS,
    dryRun: options.dryRun ?? false,
    context: taskAuditContext('purge'),
    onProgress: options.onProgress,
  })
  if (!options.dryRun) {
    const total = counts.reduce((sum, c) => sum + c.rows, 0)
    ctx.log.info(`retention purge removed ${total} row(s)`)
  }
  return counts
}
