import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Queue } from 'bullmq'
import {
  buildTestApp,
  loginAs,
  noSchedules,
  type TestApp,
  type TestBrowser,
} from '../server/testing/build-test-app.js'
import { burst, outboxRows } from '../server/testing/door-burst.js'
import { eventually } from '../server/testing/eventually.js'
import { makePerson } from '../server/testing/factories.js'
import { FakeSlack } from '../server/testing/fake-slack.js'
import { FakeTeams } from '../server/testing/fake-teams.js'
import { kioskAdmin, pairedKiosk } from '../server/testing/kiosk.js'
import { deskReceptionist } from '../server/testing/reception.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { addVisitors } from '../server/testing/visitors.js'
import { type RunningQueues, startQueues } from './queues.js'
import { runScheduledTask } from './schedules.js'

const HOOK = '/services/T1/B1/one'

async function tap(browser: TestBrowser, action: 'sign-in' | 'sign-out'): Promise<number> {
  await browser.get('/')
  const response = await browser.post(`/${action}`, { day: '2026-11-23' })
  await browser.follow(response)
  assert.match(browser.lastHtml, action === 'sign-in' ? /You have signed in/ : /You have signed out/)
  return response.statusCode
}

/** Whether a queue has nothing left to run: no job waiting, running, delayed or rate limited. */
async function idle(queue: Queue): Promise<boolean> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children')
  return Object.values(counts).every((n) => n === 0)
}

/**
 * Waits until the worker can post nothing more: every outbox event handed on (a relay pass is run
 * to make sure) and every Slack queue idle. What was posted by then is all that will be.
 */
async function settled(ctx: TestApp, queues: RunningQueues): Promise<void> {
  await eventually(async () => {
    await queues.relayNow()
    if ((await outboxRows(ctx)).some((r) => r.relayed_at === null)) return false
    for (const queue of queues.slack.values()) if (!(await idle(queue))) return false
    return true
  }, 'the outbox relayed and the Slack queues idle')
}

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

test('the count posted on a tap and in the digest includes the visitors inside', async (t) => {
  const slack = await FakeSlack.start(t)
  const ctx = await buildTestApp(t, {
    env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK), SLACK_DIGEST_TIMES: '10:00' },
    embeddedJobs: true,
  })
  await addVisitors(ctx.app.ctx.db, ctx.clock.now(), { inside: 2, left: 1, expected: 1 })
  const alice = await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' })
  await tap(alice, 'sign-in')
  assert.equal((await slack.waitFor(HOOK, 1))[0]!.text, 'Alice Smith signed in · 3 people in the building')
  await tap(alice, 'sign-out')
  assert.equal((await slack.waitFor(HOOK, 2))[1]!.text, 'Alice Smith signed out · 2 people in the building')
  await runScheduledTask({ ...ctx.app.ctx, log: ctx.app.log }, 'occupancy-digest')
  await ctx.app.embeddedJobs!.relayNow()
  assert.equal((await slack.waitFor(HOOK, 3))[2]!.text, '2 people in the building')
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
  const queues = redis.closeAtEnd(
    await startQueues({ ...ctx.app.ctx, log: ctx.app.log }, { redisUrl: redis.url, relayIntervalMs: 100 }),
  )

  const alice = await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' })
  const bob = await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' })
  assert.equal(await tap(alice, 'sign-in'), 303)
  assert.equal((await slack.waitFor(HOOK, 1))[0]!.text, 'Alice Smith signed in · 1 person in the building')

  await redis.stop()
  assert.equal(await tap(bob, 'sign-in'), 303, 'the sign-in does not depend on Redis')
  assert.equal(await tap(alice, 'sign-out'), 303, 'nor does the sign-out')
  // A relay pass while Redis is down hands nothing on (the events have nowhere to go yet).
  assert.equal(await queues.relayNow(), 0)
  assert.equal(slack.postsTo(HOOK).length, 1, 'nothing posted while Redis is down')
  const waiting = (await outboxRows(ctx)).filter((r) => r.relayed_at === null)
  assert.equal(waiting.length, 2, 'the events wait in the outbox')

  await redis.restart()
  const posts = await slack.waitFor(HOOK, 3, 20_000)
  assert.deepEqual(
    posts.slice(1).map((p) => p.text),
    ['Bob Jones signed in · 2 people in the building', 'Alice Smith signed out · 1 person in the building'],
  )
  await settled(ctx, queues)
  assert.equal(slack.postsTo(HOOK).length, 3, 'exactly once')
})

test('worker: a 429 pauses that webhook for Retry-After, posts are paced to 1 a second, none lost or doubled', async (t) => {
  const redis = await TestRedis.start(t)
  const slack = await FakeSlack.start(t)
  slack.respondNext(HOOK, { status: 429, headers: { 'retry-after': '2' } })
  const ctx = await buildTestApp(t, { env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK) } })
  const queues = redis.closeAtEnd(
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
  // The queue starts at most one post a second; arrival times add each request's own delay, which
  // a loaded machine stretches for one post and not the next, so allow half a second of that.
  // Without the pacing both posts would leave together, the moment the pause ends.
  assert.ok(
    posts[1]!.at - posts[0]!.at >= 500,
    `at most one post a second (${posts[1]!.at - posts[0]!.at} ms)`,
  )
  await settled(ctx, queues)
  assert.equal(slack.postsTo(HOOK).length, 2, 'none doubled')
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

/** Zoë, a host, and a kiosk at the North door. */
async function hostAndKiosk(ctx: TestApp) {
  const zoe = await makePerson(ctx.app.ctx.db, {
    firstName: 'Zoë',
    lastName: 'Hôst',
    email: 'zoe@example.org',
  })
  return { zoe, tablet: await pairedKiosk(ctx, await kioskAdmin(ctx), 'North door') }
}

test('a visitor’s arrival is posted to Slack and Teams: visitor, company, host and entrance; each once', async (t) => {
  const slack = await FakeSlack.start(t)
  const teams = await new FakeTeams().start()
  t.after(() => teams.stop())
  const ctx = await buildTestApp(t, {
    env: {
      ...noSchedules,
      SLACK_WEBHOOK_URLS: slack.url(HOOK),
      TEAMS_WEBHOOK_URLS: teams.url('/workflows/everything'),
      SITE_NAME: 'Head Office',
    },
    embeddedJobs: true,
  })
  const { zoe, tablet } = await hostAndKiosk(ctx)
  const body = { name: 'Vera Visitor', company: 'Acme Ltd', hostId: zoe, key: 'v-1' }
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 201)
  assert.equal(
    (await slack.waitFor(HOOK, 1))[0]!.text,
    'Vera Visitor (Acme Ltd) arrived for Zoë Hôst at North door',
  )
  await eventually(async () => teams.posts.length === 1, 'posted to Teams')
  assert.deepEqual(teams.posts[0]!.texts, [
    'Head Office',
    'Vera Visitor (Acme Ltd) arrived for Zoë Hôst at North door',
  ])
  // A walk-in at reception, no company.
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/visitors/new')
  await desk.browser.post('/reception/visitors', { name: 'Walk In', host: 'zoe host' })
  assert.equal((await slack.waitFor(HOOK, 2))[1]!.text, 'Walk In arrived for Zoë Hôst at reception')
  // The kiosk's offline queue replays the first sign-in: no second post.
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 200)
  await ctx.app.embeddedJobs!.relayNow()
  assert.equal(slack.postsTo(HOOK).length, 2, 'each arrival posted once')
  assert.equal(teams.posts.length, 2)
  assert.ok(
    ctx.outbox.some((l) => l.startsWith('message to zoe@example.org (visitor-arrived)')),
    'and the host told',
  )
})

test('anonymous mode: a visitor’s arrival is posted without the visitor’s, company’s or host’s name', async (t) => {
  const slack = await FakeSlack.start(t)
  const ctx = await buildTestApp(t, {
    env: { ...noSchedules, SLACK_WEBHOOK_URLS: slack.url(HOOK), SLACK_POST_NAMES: 'false' },
    embeddedJobs: true,
  })
  const { zoe, tablet } = await hostAndKiosk(ctx)
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', company: 'Acme Ltd', hostId: zoe })
  const [post] = await slack.waitFor(HOOK, 1)
  assert.equal(post!.text, 'A visitor arrived at North door')
  assert.doesNotMatch(post!.text, /Vera|Acme|Zo/)
})

test('a visitor who types chat markup as their name at the kiosk posts it as text: no @channel, no disguised link', async (t) => {
  const slack = await FakeSlack.start(t)
  const teams = await new FakeTeams().start()
  t.after(() => teams.stop())
  const ctx = await buildTestApp(t, {
    env: {
      ...noSchedules,
      SLACK_WEBHOOK_URLS: slack.url(HOOK),
      TEAMS_WEBHOOK_URLS: teams.url('/workflows/x'),
    },
    embeddedJobs: true,
  })
  const { zoe, tablet } = await hostAndKiosk(ctx)
  const name = '<!channel> Vera & [Reset your password](https://evil.example)'
  const company = '<https://evil.example|Acme IT>'
  const body = { name, company, hostId: zoe }
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 201)
  // Slack reads <…> as mentions and links and & as an escape: sent as &lt; &gt; &amp;, shown as typed.
  const [posted] = await slack.waitFor(HOOK, 1)
  // A web address typed as a name may still be linked by Slack, but never previewed in the channel.
  assert.deepEqual(posted!.unfurl, { links: false, media: false })
  assert.equal(
    posted!.text,
    '&lt;!channel&gt; Vera &amp; [Reset your password](https://evil.example) (&lt;https://evil.example|Acme IT&gt;) arrived for Zoë Hôst at North door',
  )
  // Teams reads a TextBlock as Markdown; the post goes as a text run, which it shows as it is.
  await eventually(async () => teams.posts.length === 1, 'posted to Teams')
  assert.deepEqual(teams.refused, [])
  const post = teams.posts[0]!
  assert.equal(post.texts[1], `${name} (${company}) arrived for Zoë Hôst at North door`)
  assert.ok(!post.markdown.some((text) => text.includes(name)), 'the visitor’s name is not read as Markdown')
})
