import { type Job, type JobsOptions, Queue, UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import type { OutboxEvent } from '../server/db/database.js'
import { SlackRateLimitedError, slackUrlsByTarget } from '../server/slack/slack.js'
import { deliverSlack, PermanentSlackError } from './deliver-slack.task.js'
import { relayOutbox } from './relay-outbox.task.js'
import { runScheduledTask, type ScheduledTask, schedules } from './schedules.js'
import { sendOneReminder } from './send-reminders.task.js'
import type { TaskContext } from './task-context.js'

/** The queue of scheduled tasks (one job per schedule firing). */
export const TASKS_QUEUE = 'tasks'
/** The rate-limited queue of reminders (one job per person per day). */
export const REMINDERS_QUEUE = 'reminders'
/** One Slack queue per webhook, so each is paced (and paused on 429) on its own. */
export const slackQueueName = (target: string) => `slack-${target}`

/** Retries with exponential backoff; finished jobs are kept a while (so ids keep deduplicating), then removed. */
export const jobDefaults: JobsOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 10_000 },
  removeOnComplete: { age: 7 * 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 10_000 },
}

/** How often the worker looks for outbox events to queue. */
export const RELAY_INTERVAL_MS = 1000

/** The running worker: its queues (for inspection) and a graceful close. */
export interface RunningQueues {
  tasks: Queue
  reminders: Queue
  slack: Map<string, Queue>
  /** Queues outbox events now (also runs every RELAY_INTERVAL_MS). */
  relayNow(): Promise<number>
  close(): Promise<void>
}

/**
 * Starts the BullMQ side: job schedulers from schedules.ts, the workers, and the outbox relay.
 * Workers use a connection that retries forever (maxRetriesPerRequest: null); the relay's producer
 * connection fails fast, so a Redis outage only leaves events in the outbox until it returns.
 */
export async function startQueues(
  ctx: TaskContext,
  options: { redisUrl: string; relayIntervalMs?: number },
): Promise<RunningQueues> {
  const workerConnection = new Redis(options.redisUrl, { maxRetriesPerRequest: null })
  const producerConnection = new Redis(options.redisUrl, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  })
  for (const c of [workerConnection, producerConnection]) {
    c.on('error', (err) => ctx.log.warn({ err: err.message }, 'Redis connection error'))
  }
  const tasks = new Queue(TASKS_QUEUE, { connection: workerConnection, defaultJobOptions: jobDefaults })
  const reminders = new Queue(REMINDERS_QUEUE, {
    connection: producerConnection,
    defaultJobOptions: jobDefaults,
  })
  const slack = new Map<string, Queue>()
  for (const target of slackUrlsByTarget(ctx.config).keys()) {
    slack.set(
      target,
      new Queue(slackQueueName(target), { connection: producerConnection, defaultJobOptions: jobDefaults }),
    )
  }

  // The timetable in Redis mirrors schedules.ts exactly: stale schedulers are removed.
  const wanted = schedules(ctx.config)
  for (const existing of await tasks.getJobSchedulers()) {
    if (existing.key && !wanted.some((s) => s.id === existing.key))
      await tasks.removeJobScheduler(existing.key)
  }
  for (const schedule of wanted) {
    await tasks.upsertJobScheduler(
      schedule.id,
      { pattern: schedule.pattern, tz: ctx.config.TIME_ZONE },
      {
        name: schedule.task,
        data: {},
        opts: {
          attempts: 3,
          backoff: { type: 'exponential', delay: 60_000 },
          removeOnComplete: jobDefaults.removeOnComplete,
          removeOnFail: jobDefaults.removeOnFail,
        },
      },
    )
  }

  const workers: Worker[] = []
  workers.push(
    new Worker(
      TASKS_QUEUE,
      async (job: Job) =>
        runScheduledTask(ctx, job.name as ScheduledTask, {
          queueReminders: async (day, personIds) => {
            await reminders.addBulk(
              personIds.map((personId) => ({
                name: 'send-reminder',
                data: { personId, day },
                opts: { jobId: `reminder-${personId}-${day}` },
              })),
            )
          },
        }),
      { connection: workerConnection },
    ),
  )
  workers.push(
    new Worker(
      REMINDERS_QUEUE,
      async (job: Job<{ personId: number; day: string }>) => sendOneReminder(ctx, job.data),
      {
        connection: workerConnection,
        // Pacing for Twilio/Graph: never more than this many reminders a minute, however many are due.
        limiter: { max: ctx.config.REMINDER_MAX_PER_MINUTE, duration: 60_000 },
      },
    ),
  )
  for (const [target, queue] of slack) {
    const worker: Worker = new Worker(
      slackQueueName(target),
      async (job: Job<{ outboxId: number; target: string }>) => {
        try {
          return await deliverSlack(ctx, job.data)
        } catch (error) {
          if (error instanceof SlackRateLimitedError) {
            // Slack's 429: pause this webhook's queue for Retry-After; the job is retried then, not counted as failed.
            await queue.rateLimit(error.retryAfterMs)
            throw Worker.RateLimitError()
          }
          if (error instanceof PermanentSlackError) throw new UnrecoverableError(error.message)
          throw error
        }
      },
      { connection: workerConnection, limiter: { max: 1, duration: 1000 } },
    )
    workers.push(worker)
  }
  for (const worker of workers) {
    worker.on('failed', (job, err) => ctx.log.warn({ err, queue: worker.name, jobId: job?.id }, 'job failed'))
    worker.on('error', (err) => ctx.log.warn({ err: err.message, queue: worker.name }, 'worker error'))
  }

  const handOn = async (event: OutboxEvent, targets: string[]) => {
    for (const target of targets) {
      const queue = slack.get(target)
      if (!queue) continue
      await queue.add(
        'deliver-slack',
        { outboxId: event.id, target },
        { jobId: `slack-${event.id}-${target}` },
      )
    }
  }
  let relaying: Promise<number> | undefined
  let redisWasDown = false
  const relayNow = (): Promise<number> => {
    relaying ??= relayOutbox(ctx, handOn)
      .then(
        (n) => {
          if (redisWasDown) ctx.log.info('Redis is back; outbox relay resumed')
          redisWasDown = false
          return n
        },
        (err: unknown) => {
          if (!redisWasDown)
            ctx.log.warn({ err }, 'outbox relay paused (is Redis down?); events wait in the database')
          redisWasDown = true
          return 0
        },
      )
      .finally(() => {
        relaying = undefined
      })
    return relaying
  }
  const timer = setInterval(relayNow, options.relayIntervalMs ?? RELAY_INTERVAL_MS)

  return {
    tasks,
    reminders,
    slack,
    relayNow,
    async close() {
      clearInterval(timer)
      await relaying
      // Running jobs get time to finish; with Redis unreachable we stop waiting and drop the connections.
      const graceful = (async () => {
        await Promise.all(workers.map((w) => w.close()))
        await Promise.all([tasks, reminders, ...slack.values()].map((q) => q.close()))
      })()
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 10_000, 'timeout').unref())
      if ((await Promise.race([graceful, timeout])) === 'timeout') {
        ctx.log.warn('queues did not close within 10 s (Redis unreachable?); disconnecting')
        await Promise.allSettled(workers.map((w) => w.close(true)))
      }
      workerConnection.disconnect()
      producerConnection.disconnect()
    },
  }
}
