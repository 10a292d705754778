import { autoCloseOpenVisits } from '../server/register/auto-close.js'
import { type TaskContext, taskAuditContext } from './task-context.js'

/** Closes every visit still open, marked auto-closed (unconfirmed). Safe to run twice. */
export async function autoClose(
  ctx: TaskContext,
  options: { onProgress?: (done: number, total: number) => void } = {},
): Promise<{ closed: number }> {
  const result = await autoCloseOpenVisits(ctx.db, {
    now: ctx.clock.now(),
    timeZone: ctx.config.TIME_ZONE,
    context: taskAuditContext('auto-close'),
    onProgress: options.onProgress,
  })
  if (result.closed) ctx.log.info(`auto-closed ${result.closed} open visit(s)`)
  for (const personId of result.personIds)
    ctx.events?.emit('change', { personId, action: 'closed', at: ctx.clock.now() })
  return { closed: result.closed }
}
