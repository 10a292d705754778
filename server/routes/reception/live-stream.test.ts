import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { type TestContext, test } from 'node:test'
import { Redis } from 'ioredis'
import { sendReminders } from '../../../tasks/send-reminders.task.js'
import { signPushActionToken } from '../../push/push.service.js'
import { reminderToken } from '../../reminders/reminder-links.js'
import { buildTestApp, loginAs, type TestApp } from '../../testing/build-test-app.js'
import { type EventStream, openEventStream, type StreamEvent } from '../../testing/event-stream.js'
import { eventually } from '../../testing/eventually.js'
import { heldAcrossClose } from '../../testing/races.js'
import { deskReceptionist } from '../../testing/reception.js'
import { TestRedis } from '../../testing/redis-server.js'

/**
 * What the board's event stream tells a page about itself, so the page never says "Live" over a
 * list that misses a sign-in. In the production tier Redis pub/sub loses messages: a web process
 * whose subscription drops cannot hear what other processes publish meanwhile, so its boards are
 * told (paused, then refresh).
 */

/** A web process (on Redis, subscribed) listening on a free port. */
async function webProcess(t: TestContext, redis?: TestRedis): Promise<TestApp & { base: string }> {
  const ctx = await buildTestApp(t, { env: redis ? { REDIS_URL: redis.url } : {} })
  if (redis)
    await eventually(
      async () => (await ctx.app.inject({ method: 'GET', url: '/healthz' })).json().redis === 'ok',
      'the process to be subscribed',
    )
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  return { ...ctx, base: `http://127.0.0.1:${port}` }
}

/** The reception desk's board stream on a process. */
async function boardStream(t: TestContext, ctx: TestApp & { base: string }): Promise<EventStream> {
  const desk = await deskReceptionist(ctx)
  const cookie = [...desk.browser.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  const stream = await openEventStream(t, `${ctx.base}/reception/events`, cookie)
  return stream
}

const names = (stream: EventStream, from: number) => stream.events.slice(from).map((e) => e.event)

/**
 * Web processes A and B on one redis-server, a board open on A, what A hears of changes, and a
 * connection of the test's own for Redis commands (CLIENT KILL).
 */
async function twoProcesses(t: TestContext) {
  const redis = await TestRedis.start(t)
  const a = await webProcess(t, redis)
  const b = await webProcess(t, redis)
  const stream = await boardStream(t, a)
  const heardOnA: number[] = []
  a.app.ctx.events.on('change', (change) => heardOnA.push(change.at))
  const admin = new Redis(redis.url)
  redis.closeAtEnd({ close: async () => void (await admin.quit()) })
  return { b, stream, heardOnA, admin }
}

test('a process whose Redis subscription drops tells its boards to refresh once it hears again, so a tap published meanwhile is not lost', async (t) => {
  const { b, stream, heardOnA, admin } = await twoProcesses(t)

  const from = stream.events.length
  // Drops every subscriber connection; the tap on B is published before A has resubscribed (A
  // waits at least 100 ms before reconnecting), so Redis hands it to nobody.
  await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  b.app.ctx.events.announceTap(42, { changed: true, in: true }, 1234)

  const refresh = await stream.next((e) => e.event === 'refresh', from)
  assert.ok(refresh, `A tells its board to refresh once it hears again (got ${names(stream, from)})`)
  assert.deepEqual(heardOnA, [], 'the tap published while A was not subscribed never reached A')
  assert.deepEqual(names(stream, from), ['paused', 'refresh'], 'paused while deaf, then refresh, once each')

  // Subscribed again: a later tap on B reaches A's board as usual.
  const after = stream.events.length
  b.app.ctx.events.announceTap(43, { changed: true, in: true }, 5678)
  assert.ok(await stream.next((e) => e.event === 'presence', after), 'later taps arrive again')
})

test('a process that could not publish a change (its own Redis connection dropped) has every board told to refresh once it can', async (t) => {
  const { b, stream, heardOnA, admin } = await twoProcesses(t)
  const publisher = b.app.ctx.redis!

  const from = stream.events.length
  await admin.call('CLIENT', 'KILL', 'ID', String(await publisher.call('CLIENT', 'ID')))
  await eventually(() => publisher.status !== 'ready', "B's connection to notice")
  // A's subscription is fine; B's tap cannot be published (B fails fast rather than queue).
  b.app.ctx.events.announceTap(42, { changed: true, in: true }, 1234)

  const refresh = await stream.next((e) => e.event === 'refresh', from)
  assert.ok(refresh, `A's board is told to refresh once B can publish again (got ${names(stream, from)})`)
  assert.deepEqual(heardOnA, [], 'the tap itself never reached A')
  assert.equal(names(stream, from).includes('paused'), false, 'A never stopped hearing')
})

test('Redis down: boards are told live updates are paused (new ones at once), and to refresh when Redis is back', async (t) => {
  const redis = await TestRedis.start(t)
  const a = await webProcess(t, redis)
  const first = await boardStream(t, a)
  assert.equal(
    (await first.next((e) => e.event === 'paused', 0, 300))?.event,
    undefined,
    'no pause while subscribed',
  )

  await redis.stop()
  assert.ok(await first.next((e) => e.event === 'paused'), 'an open board hears that updates paused')
  const opened = await boardStream(t, a)
  assert.ok(await opened.next((e) => e.event === 'paused'), 'a board opened meanwhile hears it too')

  await redis.restart()
  for (const [which, stream] of [
    ['open', first],
    ['opened while down', opened],
  ] as const) {
    const paused = stream.events.findIndex((e) => e.event === 'paused')
    assert.ok(
      await stream.next((e) => e.event === 'refresh', paused),
      `the ${which} board is told to refresh`,
    )
  }
})

test('the stream sends a keep-alive every 25 s that the page can see (an event, not a comment), so it can tell a quiet stream from a dead one', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] })
  const a = await webProcess(t)
  const stream = await boardStream(t, a)
  assert.deepEqual(names(stream, 0), [], 'nothing to say yet')
  t.mock.timers.tick(25_000)
  const keepAlive = await stream.next((e) => e.event === 'keep-alive')
  assert.deepEqual(keepAlive && { event: keepAlive.event, data: keepAlive.data }, {
    event: 'keep-alive',
    data: '{}',
  })
})

test('a message on a live channel that is not a change (another version mid-deploy, a stray PUBLISH) is not a crash: the boards refresh, and later taps arrive', async (t) => {
  const { b, stream, heardOnA, admin } = await twoProcesses(t)
  const from = stream.events.length
  for (const raw of [
    'other-process {"personId":',
    'other-process not json',
    'no-space-at-all',
    'other-process 42',
  ])
    await admin.publish('register:live:presence', raw)
  b.app.ctx.events.announceTap(44, { changed: true, in: true }, 9012)
  assert.ok(await stream.next((e) => e.event === 'presence', from), 'the tap after them reaches the board')
  assert.deepEqual(heardOnA, [9012], 'only the real change is heard as one')
  assert.ok(
    names(stream, from).includes('refresh'),
    `a message it could not read may have been a change: the board refreshes (got ${names(stream, from)})`,
  )
})

/**
 * Bob, signed in on B at 09:05 and reminded at 17:30, answers "Still here" on B at 17:31 (the link)
 * and 17:32 (the notification's button): each moves his line on the fire list (Unconfirmed to In,
 * or "said Still here at …"), so the board open on A hears of each, as it hears of taps.
 */
test('"Still here" answered on another web process, by the link or the notification, reaches the boards open on this one', async (t) => {
  const redis = await TestRedis.start(t)
  const a = await webProcess(t, redis)
  const b = await webProcess(t, redis)
  const stream = await boardStream(t, a)
  const bob = await loginAs(b, 'bob@example.org', { firstName: 'Bob', lastName: 'Test' })
  await bob.post('/sign-in', { day: '2026-11-23' })
  assert.ok(await stream.next((e) => e.event === 'presence'), 'his sign-in reaches A (the channel works)')
  b.clock.set('2026-11-23T17:30:00Z')
  await sendReminders({ ...b.app.ctx, log: b.app.log })
  const { db, keys } = b.app.ctx
  const reminder = await db.selectFrom('reminder').selectAll().executeTakeFirstOrThrow()
  const heard = (at: string) => (e: StreamEvent) =>
    e.event === 'presence' && e.data === JSON.stringify({ at: Date.parse(at) })

  let from = stream.events.length
  b.clock.set('2026-11-23T17:31:00Z')
  const link = await b.app.inject({
    method: 'POST',
    url: `/r/${reminderToken(keys.links, reminder.id, 'still-here')}`,
    payload: '',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  assert.equal(link.statusCode, 200, link.body)
  assert.ok(
    await stream.next(heard('2026-11-23T17:31:00Z'), from),
    `the link's "Still here" reaches A's board (got ${names(stream, from)})`,
  )

  from = stream.events.length
  b.clock.set('2026-11-23T17:32:00Z')
  const token = signPushActionToken(keys.links, {
    personId: reminder.person_id,
    visitId: reminder.visit_id,
    expiresAt: b.clock.now() + 3_600_000,
  })
  const push = await b.app.inject({
    method: 'POST',
    url: '/push/action',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ token, action: 'still-here' }),
  })
  assert.equal(push.statusCode, 200, push.body)
  assert.ok(
    await stream.next(heard('2026-11-23T17:32:00Z'), from),
    `the notification's "Still here" reaches A's board (got ${names(stream, from)})`,
  )
})

test('a board whose stream is still being checked when the server starts closing is ended too: closing does not wait for it for ever', async (t) => {
  // Before, the close waited for the stream as long as the page kept it open.
  const held = heldAcrossClose('/reception/events')
  const ctx = await buildTestApp(t, { instrument: held.instrument })
  const desk = await deskReceptionist(ctx)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const cookie = [...desk.browser.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  const page = new AbortController()
  const opened = fetch(`http://127.0.0.1:${port}/reception/events`, {
    headers: { cookie, accept: 'text/event-stream' },
    signal: page.signal,
  })
  assert.ok(
    await held.closeThenRelease(
      ctx.app,
      opened.then((r) => r.text()),
      page,
    ),
    'the close did not wait for the stream that opened during it',
  )
})
