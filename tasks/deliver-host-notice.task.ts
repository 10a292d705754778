import {
  deliverHostNotice,
  HOST_NOTICE_TARGET,
  hostNoticeDeps,
} from '../server/visitors/host-notice.service.js'
import type { HandOn } from './relay-outbox.task.js'
import type { TaskContext } from './task-context.js'

/**
 * Tells a visitor's host of their arrival, from its outbox event (the worker's host-notice job;
 * the payload is the outbox id only). Idempotent; throws to be retried.
 */
export async function deliverHostNoticeTask(ctx: TaskContext, job: { outboxId: number }) {
  return deliverHostNotice(hostNoticeDeps(ctx), job.outboxId)
}

/**
 * The embedded default's hand-on (no Redis): the host is told from here, then the chat webhooks
 * get the rest. A failure throws, so the event stays in the outbox for the next pass.
 */
export function inProcessHostNotices(ctx: TaskContext, chat: HandOn): HandOn {
  return async (event, targets) => {
    if (targets.includes(HOST_NOTICE_TARGET)) await deliverHostNoticeTask(ctx, { outboxId: event.id })
    const rest = targets.filter((t) => t !== HOST_NOTICE_TARGET)
    if (rest.length > 0) await chat(event, rest)
  }
}
