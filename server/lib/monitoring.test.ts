import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { startQueues } from '../../tasks/queues.js'
import { planReminders } from '../../tasks/send-reminders.task.js'
import { projectRoot } from '../paths.js'
import { buildTestApp } from '../testing/build-test-app.js'
import { FakeSentry } from '../testing/fake-sentry.js'
import { eventually, personWithRole, tapSignIn } from '../testing/reception.js'
import { TestRedis } from '../testing/redis-server.js'
import { staticImportsOf } from '../testing/static-imports.js'

test('with SENTRY_DSN, a server error reaches Sentry (the official SDK, real envelopes) without personal data; 4xx do not', async (t) => {
  const sentry = await new FakeSentry().start()
  t.after(() => sentry.stop())
  const { app } = await buildTestApp(t, { env: { SENTRY_DSN: sentry.dsn, SENTRY_ENVIRONMENT: 'staging' } })
  // A route that fails the way a bug would, with personal data in the error message.
  app.get('/reminders-boom/:token', async () => {
    throw new Error(
      'no reminder for alice.smith@example.org (+44 7911 123456) token abcdefghijklmnopqrstuvwxyz012345',
    )
  })
  const failed = await app.inject({
    method: 'GET',
    url: '/reminders-boom/SECRETLINKTOKEN?code=123456',
    headers: {
      cookie: 'session=SECRETCOOKIE',
      authorization: 'Bearer SECRETBEARER',
      'x-forwarded-for': '198.51.100.23',
    },
  })
  assert.equal(failed.statusCode, 500)
  assert.doesNotMatch(failed.body, /alice/, 'the person sees no internals')
  assert.equal((await app.inject({ method: 'GET', url: '/no-such-page' })).statusCode, 404)

  await eventually(async () => sentry.items.some((i) => i.type === 'event'), 'the event reaches Sentry')
  const events = sentry.items.filter((i) => i.type === 'event')
  assert.equal(events.length, 1, 'only the 500, never the 404')
  const event = events[0]!.payload as {
    environment: string
    tags: Record<string, string>
    exception: { values: { type: string; value: string; stacktrace: { frames: unknown[] } }[] }
  }
  assert.equal(event.environment, 'staging')
  assert.deepEqual(
    { route: event.tags.route, method: event.tags.method, status: event.tags.status },
    { route: '/reminders-boom/:token', method: 'GET', status: '500' },
  )
  const [exception] = event.exception.values
  assert.equal(exception!.type, 'Error')
  assert.equal(exception!.value, 'no reminder for [email] ([number]) token [token]')
  assert.ok(exception!.stacktrace.frames.length > 0, 'with its stack')
  assert.match(sentry.requests[0]!.url, /^\/api\/42\/envelope\//)
  const everything = sentry.requests.map((r) => r.body).join('\n')
  // The number as written and as digits (four digits alone turn up by chance in random ids).
  for (const secret of [
    'alice',
    '7911 123456',
    '7911123456',
    'SECRETLINKTOKEN',
    '123456',
    'SECRETCOOKIE',
    'SECRETBEARER',
    '198.51.100.23',
  ]) {
    assert.ok(!everything.includes(secret), `${secret} is not sent`)
  }
})

test('with SENTRY_DSN, a worker job that fails for good reaches Sentry scrubbed, tagged with its queue and task', async (t) => {
  const sentry = await new FakeSentry().start()
  t.after(() => sentry.stop())
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, { env: { SENTRY_DSN: sentry.dsn, REDIS_URL: redis.url } })
  const alice = await personWithRole(ctx, 'alice.smith@example.org', {
    firstName: 'Alice',
    lastName: 'Smith',
  })
  await tapSignIn(alice.browser)
  // The SMS provider fails, its error naming the person: the reminder job fails.
  const failingProvider = {
    name: 'sms',
    send: async (): Promise<string | undefined> => {
      throw new Error('provider refused alice.smith@example.org (+44 7911 123456)')
    },
  }
  const queues = await startQueues(
    { ...ctx.app.ctx, log: ctx.app.log, reminderSenders: [failingProvider] },
    { redisUrl: redis.url },
  )
  redis.closeAtEnd(queues)
  const { day } = await planReminders({ ...ctx.app.ctx, log: ctx.app.log })
  await queues.reminders.add('send-reminder', { personId: alice.id, day }, { attempts: 1 })

  await eventually(async () => sentry.items.some((i) => i.type === 'event'), 'the failed job reaches Sentry')
  const event = sentry.items.find((i) => i.type === 'event')!.payload as {
    tags: Record<string, string>
    exception: { values: { value: string }[] }
  }
  assert.deepEqual(
    { queue: event.tags.queue, task: event.tags.task, attempts: event.tags.attempts },
    { queue: 'reminders', task: 'send-reminder', attempts: '1' },
  )
  assert.equal(event.exception.values[0]!.value, 'provider refused [email] ([number])')
  const everything = sentry.requests.map((r) => r.body).join('\n')
  // The number as written and as digits: four digits alone turn up by chance in the event's
  // random ids and timestamps (a run failed on "7911" that was not the number).
  for (const secret of ['alice', 'Smith', '7911 123456', '7911123456'])
    assert.ok(!everything.includes(secret), `${secret} is not sent`)
})

test('without SENTRY_DSN nothing is sent, and the SDK is only ever imported dynamically (not loaded when unset)', async (t) => {
  const sentry = await new FakeSentry().start()
  t.after(() => sentry.stop())
  const { app } = await buildTestApp(t)
  app.get('/boom', async () => {
    throw new Error('boom')
  })
  assert.equal((await app.inject({ method: 'GET', url: '/boom' })).statusCode, 500)
  await app.close()
  assert.equal(sentry.requests.length, 0)
  // A static import would load the SDK in every process; only server/lib/monitoring.ts may name it,
  // inside the branch that runs when SENTRY_DSN is set.
  assert.deepEqual(staticImportsOf('@sentry', 'monitoring.ts'), [])
  const monitoring = readFileSync(join(projectRoot, 'server/lib/monitoring.ts'), 'utf8')
  assert.match(
    monitoring,
    /if \(!config\.SENTRY_DSN\) return undefined\s+const Sentry = await import\('@sentry\/node'\)/,
  )
})
