import { deliverBroadcastTask } from './deliver-broadcast.task.js'
import type { TaskContext } from './task-context.js'

/** Who sends a saved broadcast: this process (embedded default) or the worker (REDIS_URL). */
export interface BroadcastSender {
  /** Starts sending a broadcast's pending deliveries; returns at once. */
  send(broadcastId: number): void
  /**
   * Whether a sender may be at work on the broadcast (then deliveries stuck in "sending" are left
   * alone: requeueing them could send a message twice).
   */
  mayBeSending(broadcastId: number): boolean
  /** Waits for this process's deliveries to finish. */
  close(): Promise<void>
}

/**
 * The embedded default: deliveries run in this process, in the background. If a pass is already
 * running for a broadcast, another pass follows it (for deliveries requeued meanwhile).
 */
export function inProcessBroadcastSender(ctx: TaskContext): BroadcastSender {
  const deliveries = new Map<number, Promise<unknown>>()
  return {
    send(broadcastId) {
      const previous = deliveries.get(broadcastId) ?? Promise.resolve()
      const running: Promise<unknown> = previous
        .then(() => deliverBroadcastTask(ctx, { broadcastId }))
        .catch((err: unknown) => ctx.log.error({ err, broadcastId }, 'broadcast delivery failed'))
        .finally(() => {
          if (deliveries.get(broadcastId) === running) deliveries.delete(broadcastId)
        })
      deliveries.set(broadcastId, running)
    },
    mayBeSending: (broadcastId) => deliveries.has(broadcastId),
    async close() {
      await Promise.allSettled([...deliveries.values()])
    },
  }
}

/**
 * The production tier: the worker sends. It finds pending deliveries in the database every second
 * and at once when told over the live channel, so nothing here depends on Redis being up.
 */
export function workerBroadcastSender(ctx: Pick<TaskContext, 'live'>): BroadcastSender {
  return {
    send(broadcastId) {
      ctx.live?.emit('change', { topic: 'broadcast', id: broadcastId })
    },
    // The worker may be sending any broadcast at any moment.
    mayBeSending: () => true,
    async close() {},
  }
}
