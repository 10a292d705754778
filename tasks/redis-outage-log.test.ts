import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, type TestApp } from '../server/testing/build-test-app.js'
import { eventually } from '../server/testing/eventually.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { startQueues } from './queues.js'

/** A log that keeps its lines (a warning's `err` and `source` too). */
function recordingLog(ctx: TestApp) {
  const lines: {
    level: string
    msg: string
    err?: string
    source?: string
    unlogged?: number
    downSeconds?: number
  }[] = []
  const log = {
    info: (obj: object | string, msg?: string) =>
      lines.push({ level: 'info', msg: msg ?? String(obj), ...(typeof obj === 'object' ? obj : {}) }),
    warn: (obj: object | string, msg?: string) =>
      lines.push({ level: 'warn', msg: msg ?? String(obj), ...(obj as { err?: string; source?: string }) }),
    error: (obj: object | string, msg?: string) => lines.push({ level: 'error', msg: msg ?? String(obj) }),
  } as unknown as typeof ctx.app.log
  return { lines, log }
}

test('while Redis is down the worker logs each kind of error once, not every reconnect attempt of every queue, and nothing on stderr; then that it is back', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t)
  const { lines, log } = recordingLog(ctx)
  const stderr = t.mock.method(console, 'error', () => {})
  const running = redis.closeAtEnd(await startQueues({ ...ctx.app.ctx, log }, { redisUrl: redis.url }))

  // Every queue and worker reports every failed reconnect: count them on one queue (the others,
  // on the same connection, report as often).
  let reported = 0
  running.reminders.on('error', () => reported++)
  await redis.stop()
  await eventually(() => reported >= 10, 'ten failed reconnects reported by the reminders queue', 30_000)

  const warnings = lines.filter((l) => l.level === 'warn')
  const kinds = new Set(warnings.map((l) => l.err))
  assert.ok(warnings.length > 0, 'the outage is logged')
  assert.equal(warnings.length, kinds.size, `each kind once: ${JSON.stringify(warnings)}`)
  assert.equal(stderr.mock.callCount(), 0, 'BullMQ printed errors of queues nobody listens to on stderr')

  await redis.restart()
  await eventually(
    () => lines.some((l) => l.level === 'info' && /Redis .*back/.test(l.msg)),
    'the worker to say Redis is back',
    30_000,
  )
  // And what the throttled lines left out: how long it was down, how many errors went unlogged.
  const backAt = lines.findIndex((l) => l.level === 'info' && /Redis .*back/.test(l.msg))
  const back = lines[backAt]!
  // Every error reached the log's listener (the reminders queue's `reported` among them); each
  // warning logged one of them.
  const logged = lines.slice(0, backAt).filter((l) => l.level === 'warn').length
  assert.ok(
    (back.unlogged ?? 0) >= reported - logged && (back.unlogged ?? 0) > 0,
    `errors left out of the log: ${JSON.stringify(back)}`,
  )
  assert.ok(
    typeof back.downSeconds === 'number' && back.downSeconds >= 0,
    `how long: ${JSON.stringify(back)}`,
  )
})

test('a worker error that is not about Redis (BullMQ could not schedule the next run of a job) is logged as the worker’s, not as a Redis error', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t)
  const { lines, log } = recordingLog(ctx)
  const running = redis.closeAtEnd(await startQueues({ ...ctx.app.ctx, log }, { redisUrl: redis.url }))

  // What BullMQ's worker emits when it cannot add a job scheduler's next run (connection errors
  // it filters out of its 'error' events): the nightly auto-close or the reminders would stop.
  const worker = running.workers.find((w) => w.name === running.tasks.name)!
  worker.emit('error', new Error('Failed to add repeatable job for next iteration: boom'))

  const line = lines.find((l) => l.err === 'Failed to add repeatable job for next iteration: boom')
  assert.ok(line, `logged: ${JSON.stringify(lines)}`)
  assert.equal(line.level, 'warn')
  assert.equal(line.source, running.tasks.name)
  assert.doesNotMatch(line.msg, /Redis/, 'not told as a Redis error (an operator would wait for Redis)')
  assert.match(line.msg, /Worker error/)
})
