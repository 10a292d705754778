import type { OutboxEvent } from '../server/db/database.js'
import { listUnrelayed, markRelayed } from '../server/outbox/outbox.repository.js'
import { slackTarget, slackUrlsFor } from '../server/slack/slack.js'
import type { TaskContext } from './task-context.js'

/** Hands one event on to its webhooks (queues the jobs, or delivers in-process); throws to retry later. */
export type HandOn = (event: OutboxEvent, targets: string[]) => Promise<void>

/**
 * Hands every undelivered outbox event on, oldest first, and marks each once handed on. Stops at
 * the first failure (e.g. Redis is down) and leaves the rest for the next pass, so nothing is lost;
 * handing on twice is harmless (job ids are the outbox id, and deliveries are recorded).
 * With no webhook configured for an event, it is simply marked: nothing is queued. Each batch is
 * marked in one write (not one commit per event: under a burst of taps that doubled the commits).
 */
export async function relayOutbox(ctx: TaskContext, handOn: HandOn, batch = 100): Promise<number> {
  let relayed = 0
  for (;;) {
    const events = await listUnrelayed(ctx.db, batch)
    const handedOn: number[] = []
    try {
      for (const event of events) {
        const targets = slackUrlsFor(ctx.config, event.topic).map(slackTarget)
        if (targets.length) await handOn(event, targets)
        handedOn.push(event.id)
      }
    } finally {
      // Those handed on before a failure are marked too, so they are not handed on again.
      await markRelayed(ctx.db, handedOn, Date.now())
    }
    relayed += handedOn.length
    if (events.length < batch) return relayed
  }
}
