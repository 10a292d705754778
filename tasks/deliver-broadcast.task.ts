import { deliverBroadcast } from '../server/reception/broadcast.service.js'
import type { TaskContext } from './task-context.js'

/**
 * Sends a broadcast's pending deliveries (each recipient is claimed first, so two senders never
 * send one message twice), announcing each outcome to the reception pages of every process.
 */
export async function deliverBroadcastTask(
  ctx: TaskContext,
  job: { broadcastId: number },
): Promise<{ sent: number; failed: number }> {
  const announce = () => ctx.live?.emit('change', { topic: 'broadcast', id: job.broadcastId })
  try {
    return await deliverBroadcast(
      {
        db: ctx.db,
        messenger: ctx.messenger,
        clock: ctx.clock,
        linksKey: ctx.keys.links,
        publicUrl: ctx.config.PUBLIC_URL,
        timeZone: ctx.config.TIME_ZONE,
      },
      job.broadcastId,
      announce,
    )
  } finally {
    announce()
  }
}
