import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Cron } from 'croner'
import { acquireLease, claimJobRun, findLease, releaseLease } from '../server/jobs/job-lease.repository.js'
import type { RegisterEvents } from '../server/register/events.js'
import { inProcessHostNotices } from './deliver-host-notice.task.js'
import { inProcessSlackDelivery, NotYetError } from './deliver-slack.task.js'
import { startWebhookDelivery } from './deliver-webhooks.task.js'
import { relayOutbox } from './relay-outbox.task.js'
import { runScheduledTask, schedules } from './schedules.js'
import type { TaskContext } from './task-context.js'

/** How often the embedded default looks for undelivered Slack events, besides after each change. */
export const EMBEDDED_RELAY_MS = 2000

/** How long after a presence change the embedded default hands pending Slack events on. */
export const EMBEDDED_RELAY_DEBOUNCE_MS = 50

/** The name of the embedded scheduler's lease row. */
export const SCHEDULER_LEASE = 'embedded-scheduler'
/** How long a lease lasts unless renewed: a process that died is replaced within this. */
export const LEASE_TTL_MS = 30_000
/** How often the holder renews its lease (and others check whether it is free). */
export const LEASE_RENEW_MS = 10_000

/** The in-process scheduler's handle: stop() waits for running work to finish. */
export interface EmbeddedJobs {
  stop(): Promise<void>
  /** Delivers pending Slack events now (also runs on a timer and after each presence change). */
  relayNow(): Promise<void>
  /** Runs one pass of outgoing webhook delivery now (also runs on a timer). */
  deliverWebhooksNow(): Promise<void>
  /**
   * Fires a schedule (by id) now, as its cron does at its time (lease, once-per-occurrence claim,
   * task), and resolves when the run has finished; false if no such schedule.
   */
  fireNow(id: string): Promise<boolean>
  /** When a schedule (by id) fires next after `from` (default now); undefined if it is not scheduled. */
  nextRun(id: string, from?: Date): Date | undefined
  /** Whether this process holds the scheduler lease (runs the jobs) now; resolves after the first try. */
  holdsLease(): Promise<boolean>
}

/**
 * The embedded default (no REDIS_URL): the same tasks on the same schedule, run by croner in this
 * process, and Slack delivered straight from the outbox. If several processes share the database
 * (two web processes on one PostgreSQL without Redis), only the one holding the scheduler lease
 * runs anything; the others say so at start and take over within LEASE_TTL_MS if it stops. Each
 * occurrence is also claimed in the database, so even a handover cannot run it twice.
 */
export function startEmbeddedJobs(ctx: TaskContext, events?: RegisterEvents): EmbeddedJobs {
  const abort = new AbortController()
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  let holding = false
  let warned = false
  const renew = async (): Promise<boolean> => {
    if (abort.signal.aborted) return false
    const had = holding
    try {
      holding = await acquireLease(ctx.db, {
        name: SCHEDULER_LEASE,
        holder,
        now: Date.now(),
        ttlMs: LEASE_TTL_MS,
      })
    } catch (err) {
      holding = false
      ctx.log.warn({ err }, 'scheduler lease could not be renewed; jobs pause until it can')
    }
    if (holding && !had) ctx.log.info('scheduled jobs run in this process (it holds the scheduler lease)')
    if (!holding && !warned) {
      warned = true
      const lease = await findLease(ctx.db, SCHEDULER_LEASE).catch(() => undefined)
      ctx.log.warn(
        `Another process (${lease?.holder ?? 'unknown'}) already runs the scheduled jobs on this database, ` +
          'so this one does not. It takes over if that process stops. To run jobs in a separate worker, set REDIS_URL.',
      )
    }
    return holding
  }
  const firstTry = renew()
  const leaseTimer = setInterval(() => void renew(), LEASE_RENEW_MS)
  leaseTimer.unref()
  const running = new Set<Promise<unknown>>()
  const track = <T>(work: Promise<T>): Promise<T> => {
    running.add(work)
    work.finally(() => running.delete(work)).catch(() => {})
    return work
  }

  // Not croner's `name` option: its names are global to the process, and tests build several apps.
  const crons = new Map<string, Cron>()
  for (const schedule of schedules(ctx.config)) {
    crons.set(
      schedule.id,
      new Cron(schedule.pattern, { timezone: ctx.config.TIME_ZONE, protect: true }, () => {
        // Patterns name a minute: every process computes the same occurrence for this firing.
        const dueAt = Math.floor(Date.now() / 60_000) * 60_000
        track(
          (async () => {
            if (!(await renew())) return 'not the scheduler'
            const claimed = await claimJobRun(ctx.db, {
              scheduleId: schedule.id,
              dueAt,
              holder,
              now: Date.now(),
            })
            if (!claimed) return 'already run'
            return runScheduledTask(ctx, schedule.task, { signal: abort.signal })
          })().then(
            (result) => ctx.log.info({ task: schedule.task, result }, 'scheduled task finished'),
            (err: unknown) => {
              ctx.log.error({ err, task: schedule.task }, 'scheduled task failed')
              ctx.monitor?.captureJob(err, { queue: 'embedded', task: schedule.task, attempts: 1 })
            },
          ),
        )
      }),
    )
  }

  const handOn = inProcessHostNotices(ctx, inProcessSlackDelivery(ctx))
  let relaying: Promise<void> | undefined
  let again = false
  const relayNow = (): Promise<void> => {
    if (abort.signal.aborted) return Promise.resolve()
    if (relaying) {
      again = true
      return relaying
    }
    relaying = track(
      (async () => {
        // Only the lease holder posts to Slack and tells hosts: two processes on one outbox could post twice.
        await firstTry
        if (!holding) return
        do {
          again = false
          try {
            await relayOutbox(ctx, handOn)
          } catch (err) {
            if (!(err instanceof NotYetError)) ctx.log.warn({ err }, 'outbox delivery failed; will retry')
            break
          }
        } while (again)
      })().finally(() => {
        relaying = undefined
      }),
    )
    return relaying
  }
  const timer = setInterval(relayNow, EMBEDDED_RELAY_MS)
  timer.unref()
  // A burst of taps (08:55) is handed on in one pass a moment later, not one pass (and one extra
  // commit) per tap: per-tap passes were an eighth of a sign-in's cost under load.
  let soon: NodeJS.Timeout | undefined
  const onChange = () => {
    soon ??= setTimeout(() => {
      soon = undefined
      void relayNow()
    }, EMBEDDED_RELAY_DEBOUNCE_MS)
    soon.unref()
  }
  events?.on('change', onChange)
  const webhooks = startWebhookDelivery(ctx)

  return {
    relayNow,
    deliverWebhooksNow: webhooks.runNow,
    async fireNow(id) {
      const cron = crons.get(id)
      if (!cron) return false
      await cron.trigger()
      await Promise.allSettled([...running])
      return true
    },
    nextRun(id, from) {
      return crons.get(id)?.nextRun(from) ?? undefined
    },
    holdsLease: async () => {
      await firstTry
      return holding
    },
    async stop() {
      abort.abort()
      clearInterval(timer)
      clearInterval(leaseTimer)
      clearTimeout(soon)
      events?.off('change', onChange)
      for (const cron of crons.values()) cron.stop()
      await webhooks.stop()
      await Promise.allSettled([...running, firstTry])
      // Handing the lease back lets another process take the jobs over at once, not in 30 s.
      if (holding) await releaseLease(ctx.db, { name: SCHEDULER_LEASE, holder }).catch(() => {})
    },
  }
}
