import type { OutboxEvent, OutboxTopic } from '../server/db/database.js'
import { listUnrelayed, markRelayed, markTopicsRelayed } from '../server/outbox/outbox.repository.js'
import { slackTarget, slackUrlsFor } from '../server/slack/slack.js'
import { HOST_NOTICE_TARGET } from '../server/visitors/host-notice.service.js'
import type { TaskContext } from './task-context.js'

/**
 * Hands one event on to its targets (queues the jobs, or delivers in-process); throws to retry
 * later. A target is a chat webhook's name, or HOST_NOTICE_TARGET (tell the visitor's host).
 */
export type HandOn = (event: OutboxEvent, targets: string[]) => Promise<void>

/** Every topic (the compiler checks the list is whole). */
const TOPICS = Object.keys({ presence: 1, digest: 1, 'visitor-arrival': 1 } satisfies Record<
  OutboxTopic,
  1
>) as OutboxTopic[]

/** Where an outbox event goes: its chat webhooks, and a visitor's arrival to their host as well. */
export function outboxTargets(ctx: Pick<TaskContext, 'config'>, event: Pick<OutboxEvent, 'topic'>): string[] {
  const chat = slackUrlsFor(ctx.config, event.topic).map(slackTarget)
  return event.topic === 'visitor-arrival' ? [HOST_NOTICE_TARGET, ...chat] : chat
}

/**
 * Hands every undelivered outbox event on, oldest first, and marks each once handed on. Stops at
 * the first failure (e.g. Redis is down) and leaves the rest for the next pass, so nothing is lost;
 * handing on twice is harmless (job ids are the outbox id, and deliveries are recorded).
 * With no target for an event (no webhook configured), it is simply marked: nothing is queued. Each batch is
 * marked in one write (not one commit per event: under a burst of taps that doubled the commits).
 */
export async function relayOutbox(ctx: TaskContext, handOn: HandOn, batch = 100): Promise<number> {
  // Every tap writes a presence event: with no chat webhook for it (most sites), they are marked in
  // one statement, unread, rather than read and marked a batch at a time. Decided by the settings
  // of the process relaying, as the targets of the events it reads are.
  let relayed = await markTopicsRelayed(
    ctx.db,
    TOPICS.filter((topic) => outboxTargets(ctx, { topic }).length === 0),
    Date.now(),
  )
  for (;;) {
    const events = await listUnrelayed(ctx.db, batch)
    const handedOn: number[] = []
    try {
      for (const event of events) {
        const targets = outboxTargets(ctx, event)
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
