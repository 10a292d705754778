import { type Job, type JobsOptions, Queue, UnrecoverableError, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import type { OutboxEvent } from '../server/db/database.js'
import { redisOptions } from '../server/lib/redis.js'
import { listBroadcastsWithPending } from '../server/reception/broadcast.repository.js'
import { SlackRateLimitedError, slackUrlsByTarget } from '../server/slack/slack.js'
import { HOST_NOTICE_TARGET } from '../server/visitors/host-notice.service.js'
import { deliverBroadcastTask } from './deliver-broadcast.task.js'
import { deliverHostNoticeTask } from './deliver-host-notice.task.js'
import { deliverSlack, PermanentSlackError } from './deliver-slack.task.js'
import { relayOutbox } from './relay-outbox.task.js'
import { runScheduledTask, type ScheduledTask, schedules } from './schedules.js'
import { sendOneReminder } from './send-reminders.task.js'
import type { TaskContext } from './task-context.js'

/** The queue of scheduled tasks (one job per schedule firing). */
export const TASKS_QUEUE = 'tasks'
/** The rate-limited queue of reminders (one job per person per day). */
export const REMINDERS_QUEUE = 'reminders'
/** The queue of broadcast deliveries (one job per broadcast with recipients waiting). */
export const BROADCASTS_QUEUE = 'broadcasts'
/** The queue of host notices (one job per visitor arrival), retried with backoff. */
export const HOST_NOTICES_QUEUE = 'host-notices'
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

/** How often one kind of Redis error is logged while it keeps happening. */
const REDIS_ERROR_LOG_MS = 60_000

/**
 * The log of the worker's Redis errors: each kind (its message) at most once a minute, with how
 * often it happened since, and once when Redis is back, with how long it was down and how many
 * errors the log left out. During an outage every connection, queue
 * and worker reports every reconnect attempt, dozens a second; and BullMQ prints the errors of a
 * queue nobody listens to on stderr, as stack traces, so every queue gets a listener.
 */
function redisErrorLog(log: TaskContext['log']) {
  const last = new Map<string, { at: number; since: number }>()
  /** Since when Redis has been failing, and how many of its errors were left out of the log. */
  let failing: { since: number; unlogged: number } | undefined
  return {
    /**
     * `kind` names what reported it: a worker's 'error' events are mostly not about Redis (BullMQ
     * leaves connection errors out of them; e.g. it could not schedule a job's next run), so they
     * are told as the worker's, throttled alike, since its failed reconnects come as often.
     */
    listener:
      (source: string, kind: 'Redis error' | 'Worker error' = 'Redis error') =>
      (err: Error): void => {
        const now = Date.now()
        failing ??= { since: now, unlogged: 0 }
        const seen = last.get(err.message)
        if (seen && now - seen.at < REDIS_ERROR_LOG_MS) {
          seen.since++
          failing.unlogged++
          return
        }
        if (last.size > 100) last.clear()
        last.set(err.message, { at: now, since: 0 })
        log.warn(
          { err: err.message, source, ...(seen?.since ? { repeated: seen.since } : {}) },
          `${kind} (each kind is logged at most once a minute)`,
        )
      },
    ready(): void {
      if (!failing) return
      const { since, unlogged } = failing
      failing = undefined
      last.clear()
      log.info(
        { downSeconds: Math.round((Date.now() - since) / 1000), unlogged },
        'Redis is back; jobs run again',
      )
    },
  }
}

/** The running worker: its queues (for inspection) and a graceful close. */
export interface RunningQueues {
  tasks: Queue
  reminders: Queue
  broadcasts: Queue
  hostNotices: Queue
  slack: Map<string, Queue>
  /** The workers, one per queue (for inspection). */
  workers: readonly Worker[]
  /** Queues outbox events and waiting broadcasts now (also runs every RELAY_INTERVAL_MS). */
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
  // rediss:// (Heroku Redis) needs TLS that accepts its self-signed certificate.
  const tls = redisOptions(options.redisUrl, ctx.config.REDIS_TLS_VERIFY)
  const workerConnection = new Redis(options.redisUrl, { ...tls, maxRetriesPerRequest: null })
  const producerConnection = new Redis(options.redisUrl, {
    ...tls,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
  })
  const redisErrors = redisErrorLog(ctx.log)
  for (const c of [workerConnection, producerConnection]) {
    c.on('error', redisErrors.listener('connection'))
    c.on('ready', redisErrors.ready)
  }
  const tasks = new Queue(TASKS_QUEUE, { connection: workerConnection, defaultJobOptions: jobDefaults })
  const reminders = new Queue(REMINDERS_QUEUE, {
    connection: producerConnection,
    defaultJobOptions: jobDefaults,
  })
  const broadcasts = new Queue(BROADCASTS_QUEUE, {
    connection: producerConnection,
    defaultJobOptions: jobDefaults,
  })
  const hostNotices = new Queue(HOST_NOTICES_QUEUE, {
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

  for (const queue of [tasks, reminders, broadcasts, hostNotices, ...slack.values()])
    queue.on('error', redisErrors.listener(queue.name))

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
          // The occurrence this job is for: a worker that was down runs it late, and so does a retry.
          dueAt: job.opts.prevMillis,
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
  workers.push(
    new Worker(
      BROADCASTS_QUEUE,
      async (job: Job<{ broadcastId: number }>) => deliverBroadcastTask(ctx, job.data),
      // Each broadcast's deliveries go four at a time; a few broadcasts may be sent side by side.
      { connection: workerConnection, concurrency: 4 },
    ),
  )
  workers.push(
    new Worker(
      HOST_NOTICES_QUEUE,
      async (job: Job<{ outboxId: number }>) => deliverHostNoticeTask(ctx, job.data),
      { connection: workerConnection, concurrency: 4 },
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
    worker.on('failed', (job, err) => {
      ctx.log.warn({ err, queue: worker.name, jobId: job?.id }, 'job failed')
      // Reported once, when it fails for good: retries that then succeed are not faults.
      const attempts = job?.attemptsMade ?? 0
      if (err instanceof UnrecoverableError || attempts >= (job?.opts.attempts ?? 1))
        ctx.monitor?.captureJob(err, { queue: worker.name, task: job?.name ?? 'unknown', attempts })
    })
    worker.on('error', redisErrors.listener(worker.name, 'Worker error'))
  }

  const handOn = async (event: OutboxEvent, targets: string[]) => {
    for (const target of targets) {
      if (target === HOST_NOTICE_TARGET) {
        await hostNotices.add(
          'deliver-host-notice',
          { outboxId: event.id },
          { jobId: `host-notice-${event.id}` },
        )
        continue
      }
      const queue = slack.get(target)
      if (!queue) continue
      await queue.add(
        'deliver-slack',
        { outboxId: event.id, target },
        { jobId: `slack-${event.id}-${target}` },
      )
    }
  }
  // A broadcast is queued under its own id while it is waiting or being sent (a second add is a
  // no-op), and the job is removed when done, so deliveries requeued later are queued afresh.
  // Recipients are claimed one by one, so even a duplicate job never sends a message twice.
  const queueBroadcasts = async (): Promise<number> => {
    const ids = await listBroadcastsWithPending(ctx.db)
    for (const broadcastId of ids) {
      await broadcasts.add(
        'deliver-broadcast',
        { broadcastId },
        { jobId: `broadcast-${broadcastId}`, removeOnComplete: true, removeOnFail: true, attempts: 1 },
      )
    }
    return ids.length
  }
  let relaying: Promise<number> | undefined
  let redisWasDown = false
  const relayNow = (): Promise<number> => {
    relaying ??= Promise.all([relayOutbox(ctx, handOn), queueBroadcasts()])
      .then(([relayed]) => relayed)
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
  // A web process announces a new broadcast (or a retry) on the live channel: queue it at once.
  const onLive = (change: { topic: string }) => {
    if (change.topic === 'broadcast') void relayNow()
  }
  ctx.live?.on('change', onLive)

  return {
    tasks,
    reminders,
    broadcasts,
    hostNotices,
    slack,
    workers,
    relayNow,
    async close() {
      clearInterval(timer)
      ctx.live?.off('change', onLive)
      await relaying
      // Running jobs get time to finish; with Redis unreachable we stop waiting and drop the connections.
      const graceful = (async () => {
        await Promise.all(workers.map((w) => w.close()))
        await Promise.all(
          [tasks, reminders, broadcasts, hostNotices, ...slack.values()].map((q) => q.close()),
        )
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
