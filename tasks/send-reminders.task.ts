import { setTimeout as delay } from 'node:timers/promises'
import { dueReminders, type ReminderOutcome, sendReminder } from '../server/reminders/reminder.service.js'
import { reminderSendersOf, type TaskContext } from './task-context.js'

/** Who is due a reminder now (signed in today, still in, not yet reminded today). */
export async function planReminders(ctx: TaskContext): Promise<{ day: string; personIds: number[] }> {
  const due = await dueReminders(ctx.db, ctx.clock.now(), ctx.config.TIME_ZONE)
  return { day: due.day, personIds: due.people.map((p) => p.personId) }
}

/** Sends one person's reminder for a day (at most once per person per day, whoever calls). */
export async function sendOneReminder(
  ctx: TaskContext,
  job: { personId: number; day: string },
): Promise<ReminderOutcome> {
  return sendReminder(
    {
      db: ctx.db,
      linkKey: ctx.keys.links,
      publicUrl: ctx.config.PUBLIC_URL,
      timeZone: ctx.config.TIME_ZONE,
      senders: reminderSendersOf(ctx),
    },
    { ...job, now: ctx.clock.now() },
  )
}

/** Pauses before the embedded run tries again the people whose send failed (the messenger says "in a minute"). */
export const REMINDER_RETRY_PAUSES_MS = [60_000, 120_000, 240_000]

/**
 * Sends every due reminder from this process, paced at REMINDER_MAX_PER_MINUTE (the embedded
 * default and the CLI; the worker instead queues one job per person on a rate-limited queue).
 * A failure for one person is logged and does not stop the others; those who failed are tried
 * again after each pause of `retryPausesMs`, since no other run comes that day.
 */
export async function sendReminders(
  ctx: TaskContext,
  options: {
    dryRun?: boolean
    onProgress?: (done: number, total: number) => void
    signal?: AbortSignal
    retryPausesMs?: number[]
  } = {},
): Promise<{
  day: string
  personIds: number[]
  outcomes: Partial<Record<ReminderOutcome | 'failed', number>>
}> {
  const plan = await planReminders(ctx)
  const outcomes: Partial<Record<ReminderOutcome | 'failed', number>> = {}
  if (options.dryRun) return { ...plan, outcomes }
  const gapMs = 60_000 / ctx.config.REMINDER_MAX_PER_MINUTE
  const pauses = options.retryPausesMs ?? REMINDER_RETRY_PAUSES_MS
  options.onProgress?.(0, plan.personIds.length)
  let due = plan.personIds
  for (let pass = 0; due.length > 0 && !options.signal?.aborted; pass++) {
    if (pass > 0) {
      if (pass > pauses.length) break
      await sleep(pauses[pass - 1]!, options.signal)
      if (options.signal?.aborted) break
    }
    const failed: number[] = []
    for (const [i, personId] of due.entries()) {
      if (options.signal?.aborted) break
      let outcome: ReminderOutcome | undefined
      try {
        outcome = await sendOneReminder(ctx, { personId, day: plan.day })
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
      } catch (err) {
        const last = pass === pauses.length
        ctx.log.warn({ err, personId }, last ? 'reminder not sent' : 'reminder not sent; will try again')
        failed.push(personId)
      }
      if (pass === 0) options.onProgress?.(i + 1, plan.personIds.length)
      if (outcome === 'sent' && i < due.length - 1) await sleep(gapMs, options.signal)
    }
    due = failed
  }
  if (due.length > 0) outcomes.failed = due.length
  return { ...plan, outcomes }
}

/**
 * Waits `ms`, or less if the signal aborts. Node's timer removes its abort listener when it fires
 * (a hand-made one that did not left one per reminder: MaxListenersExceededWarning every day).
 */
async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch((error: unknown) => {
    if (!(error instanceof Error && error.name === 'AbortError')) throw error
  })
}
