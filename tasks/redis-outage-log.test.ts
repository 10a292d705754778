import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../server/testing/build-test-app.js'
import { eventually } from '../server/testing/eventually.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { startQueues } from './queues.js'

test('while Redis is down the worker logs each kind of error once, not every reconnect attempt of every queue, and nothing on stderr; then that it is back', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t)
  const lines: { level: string; msg: string; err?: string }[] = []
  const log = {
    info: (obj: object | string, msg?: string) => lines.push({ level: 'info', msg: msg ?? String(obj) }),
    warn: (obj: object | string, msg?: string) =>
      lines.push({ level: 'warn', msg: msg ?? String(obj), err: (obj as { err?: string }).err }),
    error: (obj: object | string, msg?: string) => lines.push({ level: 'error', msg: msg ?? String(obj) }),
  } as unknown as typeof ctx.app.log
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
})
