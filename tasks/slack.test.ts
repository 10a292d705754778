import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, type TestApp, type TestBrowser } from '../server/testing/build-test-app.js'
import { FakeSlack } from '../server/testing/fake-slack.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { startQueues } from './queues.js'
import { runScheduledTask } from './schedules.js'

const HOOK = '/services/T1/B1/one'
const noSchedules = { REMINDER_TIME: 'off', AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' }

async function tap(browser: TestBrowser, action: 'sign-in' | 'sign-out'): Promise<number> {
  await browser.get('/')
  const response = await browser.post(`/${action}`, { day: '2026-11-23' })
  await browser.follow(response)
  assert.match(browser.lastHtml, action === 'sign-in' ? /You have signed in/ : /You have signed out/)
  return response.statusCode
}

const outboxRows = (ctx: TestApp) => ctx.app.ctx.db.selectFrom('outbox').selectAll().execute()

test('embedded default: a sign-in is posted to every webhook with the name and the count', async (t) => {
  const slack = await FakeSlack.start(t)
  const other = '/services/T2/B2/two'
  const ctx = await buildTestApp(t, {
    env: { ...noSchedules, SLACK_WEBHOOK_URLS: `${slack.url(HOOK)}  ${slack.url(other)}` },
    embeddedJobs: true,
  })
  const alice = await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' })
  await tap(alice, 'sign-in')
  const [post] = await slack.waitFor(HOOK, 1)
  assert.equal(post!.text, 'Alice Smith signed in · 1 person in the building')
  assert.equal((await slack.waitFor(other, 1))[0]!.text, post!.text)

  await tap(alice, 'sign-out')
  const posts = await slack.waitFor(HOOK, 2)
  assert.equal(posts[1]!.text, 'Alice Smith signed out · 0 people in the building')
  await ctx.app.embeddedJobs!.relayNow()
  assert.equal(slack.postsTo(HOOK).length, 2, 'each event posted once')
})

test('anonymous mode posts only the count', async (t) => {
  const slack = await FakeSlack.start(t)
  const ctx = await buildTestApp(t, {
    env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK), SLACK_POST_NAMES: 'false' },
    embeddedJobs: true,
  })
  await tap(await loginAs(ctx, 'alice@example.org'), 'sign-in')
  const [post] = await slack.waitFor(HOOK, 1)
  assert.equal(post!.text, 'Someone signed in · 1 person in the building')
  assert.doesNotMatch(post!.text, /Alice/)
})

test('with no webhook configured nothing is posted and the outbox does not pile up', async (t) => {
  const slack = await FakeSlack.start(t)
  const ctx = await buildTestApp(t, { env: noSchedules, embeddedJobs: true })
  await tap(await loginAs(ctx, 'alice@example.org'), 'sign-in')
  await ctx.app.embeddedJobs!.relayNow()
  const rows = await outboxRows(ctx)
  assert.equal(rows.length, 1, 'the event is recorded with the visit')
  assert.ok(rows[0]!.relayed_at !== null, 'and handed on to nobody')
  assert.equal(slack.attempts.length, 0)
})

test('embedded default: a 429 from Slack is honoured (Retry-After) and the post is sent once, later', async (t) => {
  const slack = await FakeSlack.start(t)
  slack.respondNext(HOOK, { status: 429, headers: { 'retry-after': '2' } })
  const ctx = await buildTestApp(t, {
    env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK) },
    embeddedJobs: true,
  })
  await tap(await loginAs(ctx, 'alice@example.org'), 'sign-in')
  const [post] = await slack.waitFor(HOOK, 1, 10_000)
  const refused = slack.attempts[0]!
  assert.ok(post!.at - refused.at >= 1900, `waited ${post!.at - refused.at} ms after the 429`)
  await ctx.app.embeddedJobs!.relayNow()
  assert.equal(slack.postsTo(HOOK).length, 1)
})

test('worker: Redis killed mid-test, sign-in still succeeds and is posted once Redis is back, exactly once', async (t) => {
  const redis = await TestRedis.start(t)
  const slack = await FakeSlack.start(t)
  const ctx = await buildTestApp(t, { env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK) } })
  redis.closeAtEnd(
    await startQueues({ ...ctx.app.ctx, log: ctx.app.log }, { redisUrl: redis.url, relayIntervalMs: 100 }),
  )

  const alice = await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' })
  const bob = await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' })
  assert.equal(await tap(alice, 'sign-in'), 303)
  assert.equal((await slack.waitFor(HOOK, 1))[0]!.text, 'Alice Smith signed in · 1 person in the building')

  await redis.stop()
  assert.equal(await tap(bob, 'sign-in'), 303, 'the sign-in does not depend on Redis')
  assert.equal(await tap(alice, 'sign-out'), 303, 'nor does the sign-out')
  await new Promise((resolve) => setTimeout(resolve, 1000))
  assert.equal(slack.postsTo(HOOK).length, 1, 'nothing posted while Redis is down')
  const waiting = (await outboxRows(ctx)).filter((r) => r.relayed_at === null)
  assert.equal(waiting.length, 2, 'the events wait in the outbox')

  await redis.restart()
  const posts = await slack.waitFor(HOOK, 3, 20_000)
  assert.deepEqual(
    posts.slice(1).map((p) => p.text),
    ['Bob Jones signed in · 2 people in the building', 'Alice Smith signed out · 1 person in the building'],
  )
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(slack.postsTo(HOOK).length, 3, 'exactly once')
})

test('worker: a 429 pauses that webhook for Retry-After, posts are paced to 1 a second, none lost or doubled', async (t) => {
  const redis = await TestRedis.start(t)
  const slack = await FakeSlack.start(t)
  slack.respondNext(HOOK, { status: 429, headers: { 'retry-after': '2' } })
  const ctx = await buildTestApp(t, { env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK) } })
  redis.closeAtEnd(
    await startQueues({ ...ctx.app.ctx, log: ctx.app.log }, { redisUrl: redis.url, relayIntervalMs: 100 }),
  )

  await tap(await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' }), 'sign-in')
  await tap(await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' }), 'sign-in')
  const posts = await slack.waitFor(HOOK, 2, 20_000)
  const refused = slack.attempts[0]!
  assert.equal(refused.text, 'Alice Smith signed in · 1 person in the building')
  assert.ok(posts[0]!.at - refused.at >= 1900, `first retry ${posts[0]!.at - refused.at} ms after the 429`)
  assert.deepEqual(
    posts.map((p) => p.text),
    ['Alice Smith signed in · 1 person in the building', 'Bob Jones signed in · 2 people in the building'],
  )
  assert.ok(posts[1]!.at - posts[0]!.at >= 900, 'at most one post a second per webhook')
  await new Promise((resolve) => setTimeout(resolve, 1200))
  assert.equal(slack.postsTo(HOOK).length, 2)
})

test('the occupancy digest goes to the digest webhooks only (or to every webhook when none is set apart)', async (t) => {
  const slack = await FakeSlack.start(t)
  const digest = '/services/T3/B3/digest'
  const ctx = await buildTestApp(t, {
    env: {
      ...noSchedules,
      SLACK_WEBHOOK_URLS: slack.url(HOOK),
      SLACK_DIGEST_WEBHOOK_URLS: slack.url(digest),
      SLACK_DIGEST_TIMES: '10:00 14:00',
    },
    embeddedJobs: true,
  })
  await tap(await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' }), 'sign-in')
  await tap(await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' }), 'sign-in')
  await runScheduledTask({ ...ctx.app.ctx, log: ctx.app.log }, 'occupancy-digest')
  await ctx.app.embeddedJobs!.relayNow()
  assert.deepEqual(
    (await slack.waitFor(digest, 1)).map((p) => p.text),
    ['2 people in the building'],
  )
  await slack.waitFor(HOOK, 2)
  await ctx.app.embeddedJobs!.relayNow()
  assert.ok(
    slack.postsTo(HOOK).every((p) => /signed in/.test(p.text)),
    'the events channel gets no digest',
  )
  assert.equal(slack.postsTo(digest).length, 1)

  const shared = await buildTestApp(t, { env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url('/shared') } })
  await runScheduledTask({ ...shared.app.ctx, log: shared.app.log }, 'occupancy-digest')
  const none = await buildTestApp(t, { env: noSchedules })
  assert.equal(await runScheduledTask({ ...none.app.ctx, log: none.app.log }, 'occupancy-digest'), undefined)
  assert.equal(
    (await none.app.ctx.db.selectFrom('outbox').selectAll().execute()).length,
    0,
    'no webhook, nothing queued',
  )
  const rows = await shared.app.ctx.db.selectFrom('outbox').selectAll().execute()
  assert.deepEqual(
    rows.map((r) => [r.topic, JSON.parse(r.payload).inside]),
    [['digest', 0]],
  )
})

async function burst(ctx: TestApp, size: number): Promise<{ names: string[]; people: TestBrowser[] }> {
  const names = ['Ann', 'Ben', 'Cat', 'Dan', 'Eve', 'Fay', 'Gus', 'Hal', 'Ivy', 'Jon'].slice(0, size)
  const people: TestBrowser[] = []
  for (const name of names) {
    const browser = await loginAs(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Burst',
    })
    await browser.get('/')
    people.push(browser)
  }
  return { names, people }
}

test('embedded default: everyone at the door at once (08:55) is posted, each exactly once', async (t) => {
  const slack = await FakeSlack.start(t)
  const ctx = await buildTestApp(t, {
    env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK) },
    embeddedJobs: true,
  })
  // Four, not more: posts to one webhook are paced to one a second.
  const { names, people } = await burst(ctx, 4)
  await Promise.all(people.map((browser) => browser.post('/sign-in', { day: '2026-11-23' })))
  const posts = await slack.waitFor(HOOK, 4)
  assert.deepEqual(
    posts.map((p) => p.text.replace(/ signed in.*/, '')).sort(),
    names.map((name) => `${name} Burst`),
  )
  // Waits for the pass still marking what it handed on, then runs one more: nothing is posted twice.
  await ctx.app.embeddedJobs!.relayNow()
  assert.ok((await outboxRows(ctx)).every((r) => r.relayed_at !== null))
  assert.equal(slack.postsTo(HOOK).length, 4, 'each event posted once')
})

test('embedded default: taps in quick succession are handed on in a few passes, not one write per tap', async (t) => {
  const ctx = await buildTestApp(t, { env: noSchedules, embeddedJobs: true })
  const { people } = await burst(ctx, 10)
  for (const browser of people) await browser.post('/sign-in', { day: '2026-11-23' })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const rows = await outboxRows(ctx)
  assert.equal(rows.length, 10)
  assert.ok(
    rows.every((r) => r.relayed_at !== null),
    'all handed on without being asked',
  )
  const passes = new Set(rows.map((r) => r.relayed_at)).size
  assert.ok(passes < 5, `handed on in ${passes} passes, not one per tap`)
})
