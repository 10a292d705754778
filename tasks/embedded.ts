import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Cron } from 'croner'
import {
  acquireLease,
  claimJobRun,
  findJobRun,
  findLease,
  finishJobRun,
  ranBefore,
  reclaimJobRun,
  releaseJobRun,
  releaseLease,
} from '../server/jobs/job-lease.repository.js'
import type { RegisterEvents } from '../server/register/events.js'
import { inProcessHostNotices } from './deliver-host-notice.task.js'
import { inProcessSlackDelivery, NotYetError } from './deliver-slack.task.js'
import { startWebhookDelivery } from './deliver-webhooks.task.js'
import { relayOutbox } from './relay-outbox.task.js'
import { runScheduledTask, type Schedule, schedules } from './schedules.js'
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
/** Runs of one occurrence before it is given up, as the worker's `attempts`; retried after 1, then 2 minutes. */
export const EMBEDDED_ATTEMPTS = 3

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
  /**
   * Runs, now, the latest occurrence of each schedule that is due and unclaimed (missed, cut short,
   * or failed and due a retry) or left unfinished by a process that no longer holds the lease
   * (killed mid-run), as the holder does at every lease renewal; resolves when done.
   */
  catchUpNow(): Promise<void>
  /** Whether this process holds the scheduler lease (runs the jobs) now; resolves after the first try. */
  holdsLease(): Promise<boolean>
}

/**
 * The embedded default (no REDIS_URL): the same tasks on the same schedule, run by croner in this
 * process, and Slack delivered straight from the outbox. If several processes share the database
 * (two web processes on one PostgreSQL without Redis), only the one holding the scheduler lease
 * runs anything; the others say so at start and take over within LEASE_TTL_MS if it stops. Each
 * occurrence is also claimed in the database, so even a handover cannot run it twice, and marked
 * finished when its run ends: one whose process died mid-run is run again by the next holder.
 */
export function startEmbeddedJobs(ctx: TaskContext, events?: RegisterEvents): EmbeddedJobs {
  const abort = new AbortController()
  const holder = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  let holding = false
  let warned = false
  const running = new Set<Promise<unknown>>()
  const track = <T>(work: Promise<T>): Promise<T> => {
    running.add(work)
    work.finally(() => running.delete(work)).catch(() => {})
    return work
  }
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
    // Whatever fell due while no process held the lease (a restart at 23:59), or failed, runs now.
    if (holding) void catchUpNow()
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

  /** Occurrences this process knows were run to the end (by it or another), so catch-up asks no more. */
  const settled = new Set<string>()
  /** Failed occurrences: how often they ran, and not to be run again before `retryAt` (clock ms). */
  const failures = new Map<string, { attempts: number; retryAt: number }>()
  const keyOf = (schedule: Schedule, dueAt: number) => `${schedule.id}@${dueAt}`
  /** Records that this process's run of an occurrence ended; if that fails, a later holder may run it again (safe). */
  const finish = async (run: { scheduleId: string; dueAt: number; holder: string }, key: string) => {
    settled.add(key)
    await finishJobRun(ctx.db, { ...run, now: Date.now() }).catch((err: unknown) =>
      ctx.log.warn({ err, scheduleId: run.scheduleId }, 'scheduled run not recorded as finished'),
    )
  }

  /**
   * Runs one occurrence, claimed in the database so no process runs it twice: a new claim, or one
   * left unfinished by a process that no longer holds the lease (killed mid-run), taken over. A run
   * that stop() cut short, or that failed (fewer than EMBEDDED_ATTEMPTS times), gives its claim
   * back: catch-up runs it again (every task is safe to run twice; reminders are claimed per person
   * and day). A run that ends (done, or given up) is recorded as finished.
   */
  const runOccurrence = async (schedule: Schedule, dueAt: number): Promise<unknown> => {
    const key = keyOf(schedule, dueAt)
    const run = { scheduleId: schedule.id, dueAt, holder }
    const now = Date.now()
    if (!(await claimJobRun(ctx.db, { ...run, now }))) {
      if (!(await reclaimJobRun(ctx.db, { ...run, lease: SCHEDULER_LEASE, now }))) return 'already run'
      ctx.log.warn(
        { task: schedule.task, dueAt: new Date(dueAt).toISOString() },
        'a process that is gone (killed?) left this scheduled run unfinished: running it again',
      )
    }
    const attempts = (failures.get(key)?.attempts ?? 0) + 1
    try {
      const result = await runScheduledTask(ctx, schedule.task, { signal: abort.signal, dueAt })
      // Only the reminders stop part-way on stop() (the others finish first): the rest are still due.
      if (abort.signal.aborted && schedule.task === 'send-reminders') await releaseJobRun(ctx.db, run)
      else await finish(run, key)
      failures.delete(key)
      return result
    } catch (err) {
      if (attempts < EMBEDDED_ATTEMPTS) {
        failures.set(key, { attempts, retryAt: ctx.clock.now() + 60_000 * 2 ** (attempts - 1) })
        settled.delete(key)
        await releaseJobRun(ctx.db, run).catch(() => {})
      } else {
        failures.delete(key)
        await finish(run, key)
      }
      throw Object.assign(err instanceof Error ? err : new Error(String(err)), { attempts })
    }
  }
  const report = (schedule: Schedule, work: Promise<unknown>): Promise<void> =>
    work.then(
      (result) => ctx.log.info({ task: schedule.task, result }, 'scheduled task finished'),
      (err: unknown) => {
        const attempts = (err as { attempts?: number }).attempts ?? 1
        const last = attempts >= EMBEDDED_ATTEMPTS
        ctx.log[last ? 'error' : 'warn'](
          { err, task: schedule.task, attempts },
          last ? 'scheduled task failed' : 'scheduled task failed; will retry',
        )
        // Reported once, when it fails for good, as the worker does.
        if (last) ctx.monitor?.captureJob(err, { queue: 'embedded', task: schedule.task, attempts })
      },
    )

  // Not croner's `name` option: its names are global to the process, and tests build several apps.
  const list = schedules(ctx.config)
  const crons = new Map<string, Cron>()
  for (const schedule of list) {
    crons.set(
      schedule.id,
      new Cron(schedule.pattern, { timezone: ctx.config.TIME_ZONE, protect: true }, () => {
        // Patterns name a minute: every process computes the same occurrence for this firing (a
        // timer a moment early still names its own minute, so a later catch-up finds it claimed).
        const dueAt = Math.floor((ctx.clock.now() + 5_000) / 60_000) * 60_000
        void track(
          report(
            schedule,
            (async () => ((await renew()) ? runOccurrence(schedule, dueAt) : 'not the scheduler'))(),
          ),
        )
      }),
    )
  }

  /**
   * Runs the latest occurrence of each schedule if no process claimed it (none held the lease at
   * its time, its run was cut short, or it failed and its retry is due), or if its run never
   * finished and the process that claimed it no longer holds the lease (it was killed mid-run),
   * where the schedule has run on this database before (a new install has nothing to catch up).
   * Not the digest: a head count hours late tells nobody anything. Late runs act as of their time
   * (runScheduledTask): the auto-close closes only what was open then.
   */
  async function catchUp(): Promise<void> {
    for (const schedule of list) {
      if (schedule.task === 'occupancy-digest' || abort.signal.aborted) continue
      const [previous] = crons.get(schedule.id)?.previousRuns(1, new Date(ctx.clock.now())) ?? []
      if (!previous) continue
      const dueAt = previous.getTime()
      const key = keyOf(schedule, dueAt)
      if (settled.has(key) || (failures.get(key)?.retryAt ?? 0) > ctx.clock.now()) continue
      let claim: Awaited<ReturnType<typeof findJobRun>>
      try {
        claim = await findJobRun(ctx.db, schedule.id, dueAt)
      } catch {
        continue // the database did not answer: the next renewal looks again
      }
      if (claim && claim.finished_at !== null) {
        settled.add(key)
        continue
      }
      // Unfinished and ours: it is running in this process now.
      if (claim?.holder === holder) continue
      const missed =
        claim !== undefined ||
        failures.has(key) ||
        (await ranBefore(ctx.db, schedule.id, dueAt).catch(() => false))
      if (missed) await report(schedule, runOccurrence(schedule, dueAt))
      else settled.add(key)
    }
  }
  let catchingUp: Promise<void> | undefined
  const catchUpNow = (): Promise<void> => {
    catchingUp ??= track(catchUp()).finally(() => {
      catchingUp = undefined
    })
    return catchingUp
  }

  // Only now: taking the lease starts a catch-up, which needs the schedules above.
  const firstTry = renew()
  const leaseTimer = setInterval(() => void renew(), LEASE_RENEW_MS)
  leaseTimer.unref()

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
    catchUpNow,
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
