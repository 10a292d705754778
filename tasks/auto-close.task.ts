import { autoCloseOpenVisits } from '../server/register/auto-close.js'
import { autoCloseVisitors } from '../server/visitors/visitor.service.js'
import { type TaskContext, taskAuditContext } from './task-context.js'

/**
 * Closes every visit still open, staff and visitors alike, marked auto-closed (unconfirmed); `closed`
 * counts both. Safe to run twice. `asOf` (a scheduled run that runs late) closes only visits begun
 * by then, at that time at the latest: who came in after it is still inside. Either way the rows
 * record the clock's now as when the register closed them: the fire list counts from then.
 */
export async function autoClose(
  ctx: TaskContext,
  options: { asOf?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ closed: number }> {
  const ranAt = ctx.clock.now()
  const asOf = Math.min(options.asOf ?? ranAt, ranAt)
  const result = await autoCloseOpenVisits(ctx.db, {
    now: asOf,
    ranAt,
    timeZone: ctx.config.TIME_ZONE,
    context: taskAuditContext('auto-close'),
    onProgress: options.onProgress,
  })
  const visitors = await autoCloseVisitors(ctx.db, {
    now: asOf,
    ranAt,
    timeZone: ctx.config.TIME_ZONE,
    context: taskAuditContext('auto-close'),
  })
  if (result.closed || visitors.length)
    ctx.log.info(`auto-closed ${result.closed} open visit(s) and ${visitors.length} visitor(s)`)
  for (const personId of result.personIds)
    ctx.events?.emit('change', { personId, action: 'closed', at: ctx.clock.now() })
  for (const visitorId of visitors)
    ctx.events?.emit('change', { personId: null, visitorId, action: 'closed', at: ctx.clock.now() })
  return { closed: result.closed + visitors.length }
}
