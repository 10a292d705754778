import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Queue } from 'bullmq'
import { inProcessHostNotices } from '../../tasks/deliver-host-notice.task.js'
import { inProcessSlackDelivery } from '../../tasks/deliver-slack.task.js'
import { startQueues } from '../../tasks/queues.js'
import { relayOutbox } from '../../tasks/relay-outbox.task.js'
import type { TaskContext } from '../../tasks/task-context.js'
import { buildTestApp, loginAs, noSchedules, type TestApp } from '../testing/build-test-app.js'
import { eventually } from '../testing/eventually.js'
import { makePerson } from '../testing/factories.js'
import { FakeGraph } from '../testing/fake-graph.js'
import { startFakePushService } from '../testing/fake-push-service.js'
import { kioskAdmin, pairedKiosk } from '../testing/kiosk.js'
import { TestRedis } from '../testing/redis-server.js'
import { personIdOf } from '../testing/roles.js'
import { deliverHostNotice, HostNoticeBusyError, hostNoticeDeps } from './host-notice.service.js'
import { signInVisitor } from './visitor.service.js'

const ZOE = 'zoe.host@example.org'
const taskCtx = (ctx: TestApp): TaskContext => ({ ...ctx.app.ctx, log: ctx.app.log })
const toZoe = (ctx: TestApp) =>
  ctx.outbox.filter((line) => line.startsWith(`message to ${ZOE} (visitor-arrived)`))

/** One pass of the embedded scheduler's outbox delivery (what runs after a change and every 2 s). */
const embeddedPass = (ctx: TestApp) =>
  relayOutbox(taskCtx(ctx), inProcessHostNotices(taskCtx(ctx), inProcessSlackDelivery(taskCtx(ctx))))

/** A kiosk, and Zoë (the host) with her email address. */
async function kioskAndHost(ctx: TestApp) {
  const hostId = await makePerson(ctx.app.ctx.db, { firstName: 'Zoë', lastName: 'Hôst', email: ZOE })
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'North door')
  return { hostId, tablet }
}

const arrivals = (ctx: TestApp) =>
  ctx.app.ctx.db.selectFrom('outbox').selectAll().where('topic', '=', 'visitor-arrival').execute()

test('a host notice recorded with the arrival but not yet sent (the web process died) is sent by the next pass, once', async (t) => {
  const ctx = await buildTestApp(t, { env: noSchedules })
  const { hostId, tablet } = await kioskAndHost(ctx)
  const body = { name: 'Vera Visitor', company: 'Acme Ltd', hostId, key: 'arrive-1' }
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 201)
  // Nothing runs jobs in this process (as if it had died after answering): the notice waits.
  const [event] = await arrivals(ctx)
  assert.ok(event, 'the arrival is in the outbox, committed with the sign-in')
  assert.equal(event.relayed_at, null)
  assert.equal(toZoe(ctx).length, 0)

  assert.equal(await embeddedPass(ctx), 1)
  assert.equal(toZoe(ctx).length, 1)
  assert.match(toZoe(ctx)[0]!, /Vera Visitor \(Acme Ltd\) signed in at North door at 09:05/)
  await embeddedPass(ctx)
  assert.equal(
    await deliverHostNotice(hostNoticeDeps(ctx.app.ctx), event.id),
    'already-told',
    'a job run again finds it done',
  )
  // A replayed kiosk sign-in records no second arrival.
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 200)
  await embeddedPass(ctx)
  assert.equal((await arrivals(ctx)).length, 1)
  assert.equal(toZoe(ctx).length, 1, 'told once')
})

test('two passes at once tell the host once; a claim left by a sender that died is taken over', async (t) => {
  const ctx = await buildTestApp(t, { env: noSchedules })
  const { hostId, tablet } = await kioskAndHost(ctx)
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', hostId })
  const [event] = await arrivals(ctx)
  const deps = hostNoticeDeps(ctx.app.ctx)
  const results = await Promise.allSettled([
    deliverHostNotice(deps, event!.id),
    deliverHostNotice(deps, event!.id),
  ])
  assert.equal(toZoe(ctx).length, 1, 'one message')
  const told = results.filter((r) => r.status === 'fulfilled' && r.value === 'told')
  assert.equal(told.length, 1, JSON.stringify(results))
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(r.reason instanceof HostNoticeBusyError, String(r.reason))
  }
  assert.equal(await deliverHostNotice(deps, event!.id), 'already-told')

  // A second visitor: a sender claimed the notice and died before sending (no delivery recorded).
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Walt Waiting', hostId })
  const second = (await arrivals(ctx))[1]!
  const visitorId = (JSON.parse(second.payload) as { visitorId: number }).visitorId
  const { db } = ctx.app.ctx
  await db
    .updateTable('visitor')
    .set({ host_notified_at: ctx.clock.now() })
    .where('id', '=', visitorId)
    .execute()
  await assert.rejects(deliverHostNotice(deps, second.id), HostNoticeBusyError, 'still held by its sender')
  ctx.clock.set(new Date(ctx.clock.now() + 2 * 60_000 + 1).toISOString())
  assert.equal(await deliverHostNotice(deps, second.id), 'told', 'taken over once the claim is stale')
  assert.match(toZoe(ctx)[1]!, /Walt Waiting signed in at North door/)
})

test('a failed send is retried by the next pass (the embedded default), then recorded once', async (t) => {
  const graph = await FakeGraph.start(t)
  const ctx = await buildTestApp(t, { env: { ...noSchedules, ...graph.env() }, channelsFromConfig: true })
  const { db } = ctx.app.ctx
  const hostId = await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: ZOE })
  const now = ctx.clock.now()
  await signInVisitor(
    db,
    {
      input: { name: 'Vera Visitor', hostId },
      source: { via: 'reception', kiosk: null, personId: null, context: { ip: '-', userAgent: 'test' } },
      at: now,
      now,
      noticeId: null,
    },
    { timeZone: ctx.config.TIME_ZONE, defaultRegion: ctx.config.DEFAULT_PHONE_REGION },
  )
  // Graph is down for every try of this send (the messenger tries 3 times).
  graph.script({ status: 503 }, { status: 503 }, { status: 503 })
  await assert.rejects(embeddedPass(ctx))
  assert.equal(graph.lastTo(ZOE), undefined)
  const [event] = await arrivals(ctx)
  assert.equal(event!.relayed_at, null, 'left in the outbox for the next pass')
  const visitor = await ctx.app.ctx.db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(visitor.host_notified_at, null, 'the claim was given back')

  await embeddedPass(ctx)
  assert.match(graph.lastTo(ZOE)!.subject, /visitor/i)
  await embeddedPass(ctx)
  assert.equal(graph.mails.filter((m) => m.to.includes(ZOE) && /visitor/i.test(m.subject)).length, 1)
})

/** Whether a queue has nothing left to run. */
async function idle(queue: Queue): Promise<boolean> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')
  return Object.values(counts).every((n) => n === 0)
}

test('with Redis, the worker tells the host; two workers relaying at once tell them once', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, { env: noSchedules })
  const { hostId, tablet } = await kioskAndHost(ctx)
  // Two worker processes on one database and one Redis (relaying only when asked).
  const workers = [
    redis.closeAtEnd(await startQueues(taskCtx(ctx), { redisUrl: redis.url, relayIntervalMs: 3_600_000 })),
    redis.closeAtEnd(await startQueues(taskCtx(ctx), { redisUrl: redis.url, relayIntervalMs: 3_600_000 })),
  ]
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', company: 'Acme Ltd', hostId })
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Val Second', hostId })
  assert.equal(toZoe(ctx).length, 0, 'the web process sends nothing itself')
  await Promise.all(workers.map((w) => w.relayNow()))
  await eventually(
    async () => toZoe(ctx).length === 2 && (await idle(workers[0]!.hostNotices)),
    'both hosts told',
  )
  await Promise.all(workers.map((w) => w.relayNow()))
  await eventually(async () => idle(workers[0]!.hostNotices), 'nothing more queued')
  assert.equal(toZoe(ctx).length, 2, 'each visitor told once')
  assert.match(toZoe(ctx).join('\n'), /Vera Visitor \(Acme Ltd\) signed in at North door/)
  const delivered = await ctx.app.ctx.db
    .selectFrom('outbox_delivery')
    .select('target')
    .where('target', '=', 'host')
    .execute()
  assert.equal(delivered.length, 2)
})

test('Web Push first: the host gets a push (no SMS or email); once the subscription is gone (410), email', async (t) => {
  const push = await startFakePushService()
  t.after(() => push.close())
  const ctx = await buildTestApp(t, { env: noSchedules })
  const host = await loginAs(ctx, ZOE, { firstName: 'Zoë', lastName: 'Hôst' })
  const hostId = await personIdOf(ctx, ZOE)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'North door')
  await host.get('/profile')
  const subscription = push.subscribe()
  const saved = await host.request({
    method: 'POST',
    url: '/push/subscriptions',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ ...subscription.json, _csrf: host.csrfToken() }),
  })
  assert.equal(saved.statusCode, 201, saved.body)

  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', company: 'Acme Ltd', hostId })
  await embeddedPass(ctx)
  assert.equal(push.received.length, 1, 'one push')
  const shown = JSON.parse(subscription.decrypt(push.received[0]!.body)) as {
    title: string
    body: string
    tag: string
  }
  assert.equal(shown.title, 'Your visitor has arrived')
  assert.equal(shown.body, 'Vera Visitor (Acme Ltd) signed in at North door at 09:05.')
  assert.match(shown.tag, /^visitor-arrived-\d+$/)
  assert.equal(toZoe(ctx).length, 0, 'no email when the push went')
  const sent = await ctx.app.ctx.db.selectFrom('outbox_delivery').select('target').execute()
  assert.deepEqual(
    sent.map((r) => r.target),
    ['host'],
  )

  // The host's browser dropped the subscription: the push service answers 410 Gone.
  push.state.status = 410
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Val Second', hostId })
  await embeddedPass(ctx)
  assert.equal(push.received.length, 2, 'the push was tried')
  assert.equal(toZoe(ctx).length, 1, 'then email')
  assert.match(toZoe(ctx)[0]!, /Val Second signed in at North door/)
  const left = await ctx.app.ctx.db.selectFrom('push_subscription').selectAll().execute()
  assert.equal(left.length, 0, 'the gone subscription is removed')
  await embeddedPass(ctx)
  assert.equal(push.received.length, 2)
  assert.equal(toZoe(ctx).length, 1)
})
