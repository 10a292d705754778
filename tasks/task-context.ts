import type { FastifyBaseLogger } from 'fastify'
import type { AppContext } from '../server/context.js'
import { vapidFromConfig } from '../server/push/push.service.js'
import {
  contactReminderSender,
  pushReminderSender,
  type ReminderSender,
} from '../server/reminders/reminder-senders.js'

/** What every task needs: the app's context (database, config, clock, keys, messenger) and a log. */
export type TaskContext = Pick<AppContext, 'db' | 'config' | 'clock' | 'keys' | 'messenger'> & {
  /** Presence announcements (live boards in every process). */
  events?: AppContext['events']
  /** Roll-call and broadcast announcements (live reception pages in every process). */
  live?: AppContext['live']
  log: Pick<FastifyBaseLogger, 'info' | 'warn' | 'error'>
  /** Where failed jobs are reported (Sentry when SENTRY_DSN is set). */
  monitor?: AppContext['monitor']
  /** Reminder senders, tried in order until one reaches the person (Web Push can go first). */
  reminderSenders?: readonly ReminderSender[]
}

/** Where audit rows written by tasks say they came from. */
export const taskAuditContext = (task: string) => ({ ip: '-', userAgent: `task:${task}` })

/** The reminder senders in effect: Web Push first, then the person's verified contacts. */
export function reminderSendersOf(ctx: TaskContext): readonly ReminderSender[] {
  return (
    ctx.reminderSenders ?? [
      pushReminderSender({
        db: ctx.db,
        clock: ctx.clock,
        linkKey: ctx.keys.links,
        vapid: vapidFromConfig(ctx.config),
        timeZone: ctx.config.TIME_ZONE,
      }),
      contactReminderSender({
        db: ctx.db,
        messenger: ctx.messenger,
        contactOrder: ctx.config.REMINDER_CONTACT_ORDER,
        timeZone: ctx.config.TIME_ZONE,
      }),
    ]
  )
}
