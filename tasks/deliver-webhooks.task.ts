import { runWebhookPass, type WebhookDeps } from '../server/outgoing-webhooks/delivery.js'
import type { TaskContext } from './task-context.js'

/** How often pending webhook events are looked for (the worker, and the embedded default). */
export const WEBHOOK_POLL_MS = 2000

/** The delivery engine's dependencies from a task context. */
export function webhookDeps(ctx: TaskContext): WebhookDeps {
  return {
    db: ctx.db,
    clock: ctx.clock,
    key: ctx.keys.webhooks,
    allowPrivate: ctx.config.WEBHOOKS_ALLOW_PRIVATE,
    timeoutMs: ctx.config.WEBHOOK_TIMEOUT_MS,
    messenger: ctx.messenger,
    log: ctx.log,
  }
}

/** One pass of outgoing webhook delivery: new events fanned out, due deliveries attempted. */
export async function deliverWebhooks(ctx: TaskContext): Promise<{ attempted: number }> {
  return runWebhookPass(webhookDeps(ctx))
}

/** The delivery loop of a process (worker or embedded): one pass at a time, every WEBHOOK_POLL_MS. */
export function startWebhookDelivery(ctx: TaskContext): { runNow(): Promise<void>; stop(): Promise<void> } {
  let running: Promise<void> | undefined
  let stopped = false
  const runNow = (): Promise<void> => {
    if (stopped) return Promise.resolve()
    running ??= deliverWebhooks(ctx)
      .then(
        () => {},
        (err: unknown) => ctx.log.warn({ err }, 'webhook delivery pass failed; will retry'),
      )
      .finally(() => {
        running = undefined
      })
    return running
  }
  const timer = setInterval(runNow, WEBHOOK_POLL_MS)
  timer.unref()
  return {
    runNow,
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}
