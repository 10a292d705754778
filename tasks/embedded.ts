import { Cron } from 'croner'
import type { RegisterEvents } from '../server/register/events.js'
import { inProcessSlackDelivery, NotYetError } from './deliver-slack.task.js'
import { relayOutbox } from './relay-outbox.task.js'
import { runScheduledTask, schedules } from './schedules.js'
import type { TaskContext } from './task-context.js'

/** How often the embedded default looks for undelivered Slack events, besides after each change. */
export const EMBEDDED_RELAY_MS = 2000

/** How long after a presence change the embedded default hands pending Slack events on. */
export const EMBEDDED_RELAY_DEBOUNCE_MS = 50

/** The in-process scheduler's handle: stop() waits for running work to finish. */
export interface EmbeddedJobs {
  stop(): Promise<void>
  /** Delivers pending Slack events now (also runs on a timer and after each presence change). */
  relayNow(): Promise<void>
  /** When a schedule (by id) fires next after `from` (default now); undefined if it is not scheduled. */
  nextRun(id: string, from?: Date): Date | undefined
}

/**
 * The embedded default (no REDIS_URL): the same tasks on the same schedule, run by croner in this
 * process, and Slack delivered straight from the outbox.
 */
export function startEmbeddedJobs(ctx: TaskContext, events?: RegisterEvents): EmbeddedJobs {
  const abort = new AbortController()
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
      new Cron(schedule.pattern, { timezone: ctx.config.TIME_ZONE, protect: true }, () =>
        track(
          runScheduledTask(ctx, schedule.task, { signal: abort.signal }).then(
            (result) => ctx.log.info({ task: schedule.task, result }, 'scheduled task finished'),
            (err: unknown) => ctx.log.error({ err, task: schedule.task }, 'scheduled task failed'),
          ),
        ),
      ),
    )
  }

  const handOn = inProcessSlackDelivery(ctx)
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
        do {
          again = false
          try {
            await relayOutbox(ctx, handOn)
          } catch (err) {
            if (!(err instanceof NotYetError)) ctx.log.warn({ err }, 'Slack delivery failed; will retry')
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

  return {
    relayNow,
    nextRun(id, from) {
      return crons.get(id)?.nextRun(from) ?? undefined
    },
    async stop() {
      abort.abort()
      clearInterval(timer)
      clearTimeout(soon)
      events?.off('change', onChange)
      for (const cron of crons.values()) cron.stop()
      await Promise.allSettled([...running])
    },
  }
}
