import type { Config } from '../server/config.js'
import { localDay } from '../server/lib/site-time.js'
import { hostNoticeDeps, remindHostsOfVisitorsInside } from '../server/visitors/host-notice.service.js'
import { autoClose } from './auto-close.task.js'
import { occupancyDigest } from './occupancy-digest.task.js'
import { purge } from './purge.task.js'
import { planReminders, sendReminders } from './send-reminders.task.js'
import type { TaskContext } from './task-context.js'

/** The jobs that run on a clock. */
export type ScheduledTask = 'send-reminders' | 'auto-close' | 'purge' | 'occupancy-digest'

/** One entry of the timetable: a stable id, the task, and a cron pattern in the site's time zone. */
export interface Schedule {
  id: string
  task: ScheduledTask
  pattern: string
}

/** The cron pattern for every day at a local HH:mm. */
export function dailyAt(time: string): string {
  const [hours, minutes] = time.split(':').map(Number)
  return `${minutes} ${hours} * * *`
}

/**
 * What runs when — the one place that says so. Patterns are read in TIME_ZONE, by BullMQ's job
 * schedulers in the worker and by croner in the embedded default alike.
 */
export function schedules(
  config: Pick<Config, 'REMINDER_TIME' | 'AUTO_CLOSE_TIME' | 'PURGE_TIME' | 'SLACK_DIGEST_TIMES'>,
): Schedule[] {
  const list: Schedule[] = []
  if (config.REMINDER_TIME !== 'off') {
    list.push({ id: 'send-reminders', task: 'send-reminders', pattern: dailyAt(config.REMINDER_TIME) })
  }
  if (config.AUTO_CLOSE_TIME !== 'off') {
    list.push({ id: 'auto-close', task: 'auto-close', pattern: dailyAt(config.AUTO_CLOSE_TIME) })
  }
  if (config.PURGE_TIME !== 'off')
    list.push({ id: 'purge', task: 'purge', pattern: dailyAt(config.PURGE_TIME) })
  // A time listed twice is one schedule: two with one id would leave a timer nobody can stop.
  for (const time of new Set(config.SLACK_DIGEST_TIMES)) {
    list.push({
      id: `occupancy-digest-${time.replace(':', '')}`,
      task: 'occupancy-digest',
      pattern: dailyAt(time),
    })
  }
  return list
}

/**
 * Runs a scheduled task once. With `queueReminders` (the worker) reminders are queued one job per
 * person on the rate-limited queue; without it (embedded, CLI) they are sent from here, paced.
 * `dueAt` is the occurrence being run, when it runs late (a worker that was down, a retry, a
 * catch-up after a restart): the auto-close then closes only what was open at that time, and the
 * reminder is skipped once its local day is over.
 */
export async function runScheduledTask(
  ctx: TaskContext,
  task: ScheduledTask,
  options: {
    queueReminders?: (day: string, personIds: number[]) => Promise<void>
    signal?: AbortSignal
    dueAt?: number
  } = {},
): Promise<unknown> {
  const { dueAt } = options
  switch (task) {
    case 'send-reminders': {
      // Asked the next morning, "are you still in?" would go to people who just arrived.
      const tz = ctx.config.TIME_ZONE
      if (dueAt !== undefined && localDay(dueAt, tz) !== localDay(ctx.clock.now(), tz)) {
        ctx.log.warn(`the reminder due ${new Date(dueAt).toISOString()} ran after its day was over: skipped`)
        return { skipped: 'its day is over' }
      }
      // Hosts of visitors still in are few and told from here, in every tier.
      await remindHostsOfVisitorsInside(hostNoticeDeps(ctx)).catch((err: unknown) =>
        ctx.log.warn({ err }, 'hosts not reminded of visitors; the next run tries again'),
      )
      if (!options.queueReminders) return sendReminders(ctx, { signal: options.signal })
      const plan = await planReminders(ctx)
      await options.queueReminders(plan.day, plan.personIds)
      return { queued: plan.personIds.length }
    }
    case 'auto-close':
      return autoClose(ctx, { asOf: dueAt })
    case 'purge':
      return purge(ctx)
    case 'occupancy-digest':
      return occupancyDigest(ctx)
  }
}
