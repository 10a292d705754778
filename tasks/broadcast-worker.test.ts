import assert from 'node:assert/strict'
import { test } from 'node:test'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { Messenger } from '../server/messaging/messenger.js'
import { buildTestApp, type TestApp } from '../server/testing/build-test-app.js'
import { deskReceptionist, eventually, personWithRole, tapSignIn } from '../server/testing/reception.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { startQueues } from './queues.js'
import type { TaskContext } from './task-context.js'

/** A worker's context: the app's database and keys, but its own message log (its own process). */
function workerCtx(ctx: TestApp, outbox: string[]): TaskContext {
  const { db, clock, config } = ctx.app.ctx
  const messenger = new Messenger(
    [consoleChannel({ info: (line: string) => outbox.push(line) })],
    { siteName: config.SITE_NAME, publicUrl: config.PUBLIC_URL },
    { db, clock },
  )
  return { ...ctx.app.ctx, messenger, log: ctx.app.log }
}

test('with REDIS_URL a broadcast is sent by the worker, not the web process; two workers send each message once', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, { env: { REDIS_URL: redis.url } })
  const { db } = ctx.app.ctx
  const people = []
  for (const name of ['Amy', 'Bea', 'Cat', 'Dot', 'Eve', 'Fay']) {
    const person = await personWithRole(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Test',
    })
    await tapSignIn(person.browser)
    people.push(person)
  }
  const desk = await deskReceptionist(ctx)
  const workerOutboxes: string[][] = [[], []]
  for (const outbox of workerOutboxes) {
    redis.closeAtEnd(await startQueues(workerCtx(ctx, outbox), { redisUrl: redis.url }))
  }

  await desk.browser.get('/reception/broadcasts/new?template=drill')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'This is a fire drill.',
  })
  assert.equal(sent.statusCode, 303)
  const id = Number(String(sent.headers.location).split('/').at(-1))
  await eventually(
    async () => {
      const waiting = await db
        .selectFrom('broadcast_recipient')
        .select('id')
        .where('broadcast_id', '=', id)
        .where('status', 'in', ['pending', 'sending'])
        .execute()
      return waiting.length === 0
    },
    'the worker to send every delivery',
    30_000,
  )

  const byWorkers = workerOutboxes.flat().filter((l) => l.includes('(broadcast)'))
  assert.equal(ctx.outbox.filter((l) => l.includes('(broadcast)')).length, 0, 'the web process sent nothing')
  assert.equal(byWorkers.length, people.length, 'one message per person inside')
  const recipients = new Set(byWorkers.map((l) => l.split(' ')[2]))
  assert.equal(recipients.size, people.length, 'nobody twice')
  const statuses = await db
    .selectFrom('broadcast_recipient')
    .select('status')
    .where('broadcast_id', '=', id)
    .execute()
  assert.ok(statuses.every((r) => r.status === 'sent'))
})
