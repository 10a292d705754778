import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, TestBrowser } from '../testing/build-test-app.js'
import { freePort, TestRedis } from '../testing/redis-server.js'

test('with REDIS_URL a rate limit of N allows N in total across two web processes; Redis down serves requests and /healthz says degraded', async (t) => {
  const redis = await TestRedis.start(t)
  const env = { REDIS_URL: redis.url, RATE_LIMIT_PER_MINUTE: '10' }
  const a = await buildTestApp(t, { env })
  const b = await buildTestApp(t, { env })
  const waitHealthy = async (app: typeof a.app) => {
    for (;;) {
      const health = (await app.inject({ method: 'GET', url: '/healthz' })).json()
      if (health.redis === 'ok') return health
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  assert.deepEqual(await waitHealthy(a.app), { status: 'ok', database: 'ok', redis: 'ok' })
  await waitHealthy(b.app)
  const fromA = new TestBrowser(a.app, '198.51.100.7')
  const fromB = new TestBrowser(b.app, '198.51.100.7')
  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    statuses.push((await fromA.get('/login')).statusCode, (await fromB.get('/login')).statusCode)
  }
  assert.deepEqual(
    statuses.filter((s) => s === 200).length,
    10,
    `10 served in total across both processes: ${statuses.join(' ')}`,
  )
  assert.deepEqual(statuses.slice(10), [429, 429])

  await redis.stop()
  const served = await new TestBrowser(a.app, '198.51.100.8').get('/login')
  assert.equal(served.statusCode, 200, 'Redis down: the request is served, not refused')
  const health = await a.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(health.statusCode, 200)
  assert.deepEqual(health.json(), { status: 'degraded', database: 'ok', redis: 'down' })
})

test('a REDIS_URL nobody answers on: pages are served, /healthz says degraded', async (t) => {
  const dead = `redis://127.0.0.1:${await freePort()}`
  const ctx = await buildTestApp(t, { env: { REDIS_URL: dead } })
  assert.equal((await new TestBrowser(ctx.app, '198.51.100.9').get('/login')).statusCode, 200)
  const health = await ctx.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(health.statusCode, 200)
  assert.equal(health.json().redis, 'down')
})

test('live events: a change announced in one process is heard once in every process, its own included', async (t) => {
  const redis = await TestRedis.start(t)
  const a = await buildTestApp(t, { env: { REDIS_URL: redis.url } })
  const b = await buildTestApp(t, { env: { REDIS_URL: redis.url } })
  for (const app of [a.app, b.app]) {
    while ((await app.inject({ method: 'GET', url: '/healthz' })).json().redis !== 'ok') {
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
  const heardOnA: (number | null)[] = []
  const heardOnB: (number | null)[] = []
  a.app.ctx.events.on('change', (change) => heardOnA.push(change.personId))
  const onB = new Promise<void>((resolve) => {
    b.app.ctx.events.on('change', (change) => {
      heardOnB.push(change.personId)
      resolve()
    })
  })
  const liveOnB = new Promise<unknown>((resolve) => b.app.ctx.live.once('change', resolve))
  a.app.ctx.events.announceTap(42, { changed: true, in: true }, 1000)
  a.app.ctx.live.emit('change', { topic: 'roll-call', id: 7 })
  await onB
  assert.deepEqual(await liveOnB, { topic: 'roll-call', id: 7 })
  // A round trip after the first message shows nothing else is on its way to A.
  const second = new Promise<void>((resolve) => b.app.ctx.events.once('change', () => resolve()))
  a.app.ctx.events.announceTap(43, { changed: true, in: false }, 2000)
  await second
  assert.deepEqual(heardOnB, [42, 43])
  assert.deepEqual(heardOnA, [42, 43], 'A heard its own changes once each (not again from Redis)')
})
