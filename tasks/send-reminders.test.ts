import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { test } from 'node:test'
import { insertContact } from '../server/identity/contact.repository.js'
import { signPushActionToken } from '../server/push/push.service.js'
import { fireList, fireListSettings } from '../server/reception/presence.service.js'
import { answerReminder } from '../server/reminders/reminder.repository.js'
import { buildTestApp, loginAs, type TestApp, TestBrowser } from '../server/testing/build-test-app.js'
import { eventually } from '../server/testing/eventually.js'
import { startFakePushService } from '../server/testing/fake-push-service.js'
import { flakyChannel } from '../server/testing/flaky-channel.js'
import { sendSavedTap } from '../server/testing/reception.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { autoClose } from './auto-close.task.js'
import { startQueues } from './queues.js'
import { planReminders, sendOneReminder, sendReminders } from './send-reminders.task.js'
import type { TaskContext } from './task-context.js'

const fast = { REMINDER_MAX_PER_MINUTE: '6000', AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' }
const taskCtx = (ctx: TestApp): TaskContext => ({ ...ctx.app.ctx, log: ctx.app.log })
const reminders = (ctx: TestApp, to: string) =>
  ctx.outbox.filter((line) => line.startsWith(`message to ${to} (reminder)`))

async function signedIn(ctx: TestApp, contact: string, firstName: string): Promise<TestBrowser> {
  const browser = await loginAs(ctx, contact, { firstName, lastName: 'Test' })
  await browser.post('/sign-in', { day: '2026-11-23' })
  return browser
}

/** What a browser sends when a form on a reminder page is submitted (no CSRF: the link is the key). */
const formPost = (browser: TestBrowser, url: string, fields: Record<string, string> = {}) =>
  browser.request({
    method: 'POST',
    url,
    payload: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })

function links(line: string): { left: string; stillHere: string } {
  const found = [...line.matchAll(/http:\/\/register\.test(\/r\/[A-Za-z0-9_-]+)/g)].map((m) => m[1]!)
  assert.equal(found.length, 2, `two links in ${line}`)
  return { left: found[0]!, stillHere: found[1]! }
}

const personIdOf = async (ctx: TestApp, contact: string) =>
  (
    await ctx.app.ctx.db
      .selectFrom('contact')
      .select('person_id')
      .where('value', '=', contact)
      .executeTakeFirstOrThrow()
  ).person_id

test('reminds each person still in, once a day, however often the job runs', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  await signedIn(ctx, 'alice@example.org', 'Alice')
  await signedIn(ctx, '07400 123456', 'Bob')
  const carol = await signedIn(ctx, 'carol@example.org', 'Carol')
  await carol.get('/')
  await carol.post('/sign-out', { day: '2026-11-23' })
  ctx.clock.set('2026-11-23T17:30:00Z')

  const first = await sendReminders(taskCtx(ctx))
  assert.deepEqual(first.outcomes, { sent: 2 })
  assert.equal(reminders(ctx, 'alice@example.org').length, 1)
  assert.match(reminders(ctx, 'alice@example.org')[0]!, /Are you still in the building\?.*since 09:05/)
  assert.equal(reminders(ctx, '+447400123456').length, 1)
  assert.match(reminders(ctx, '+447400123456')[0]!, /Bob, you are still signed in \(since 09:05\)/)
  // Each link stands on its own line of the SMS (nothing glued to the URL), and opens.
  assert.match(
    reminders(ctx, '+447400123456')[0]!,
    /I've left: http:\/\/register\.test\/r\/[\w-]+ \| Still here: /,
  )
  const sms = links(reminders(ctx, '+447400123456')[0]!)
  assert.equal((await new TestBrowser(ctx.app).get(sms.stillHere)).statusCode, 200)
  assert.equal(reminders(ctx, 'carol@example.org').length, 0, 'signed out: no reminder')

  ctx.clock.advance(30 * 60_000)
  const again = await sendReminders(taskCtx(ctx))
  assert.deepEqual(again.personIds, [], 'nobody is due twice')
  const bob = await personIdOf(ctx, '+447400123456')
  assert.equal(await sendOneReminder(taskCtx(ctx), { personId: bob, day: '2026-11-23' }), 'already-claimed')

  await signedIn(ctx, 'erin@example.org', 'Erin')
  const erin = await personIdOf(ctx, 'erin@example.org')
  const both = await Promise.all([
    sendOneReminder(taskCtx(ctx), { personId: erin, day: '2026-11-23' }),
    sendOneReminder(taskCtx(ctx), { personId: erin, day: '2026-11-23' }),
  ])
  assert.deepEqual(both.sort(), ['already-claimed', 'sent'])
  assert.equal(reminders(ctx, 'erin@example.org').length, 1)
  assert.equal(reminders(ctx, 'alice@example.org').length, 1)
})

test('a failed send is retried and still sends exactly one reminder', async (t) => {
  let failures = 1
  const ctx = await buildTestApp(t, {
    env: fast,
    channels: () => [
      flakyChannel(
        (line) => ctx.outbox.push(line),
        (m) => m.purpose === 'reminder' && failures-- > 0,
      ),
    ],
  })
  await signedIn(ctx, 'alice@example.org', 'Alice')
  ctx.clock.set('2026-11-23T17:30:00Z')
  const alice = await personIdOf(ctx, 'alice@example.org')
  await assert.rejects(
    sendOneReminder(taskCtx(ctx), { personId: alice, day: '2026-11-23' }),
    /try again in a minute/,
  )
  assert.equal(reminders(ctx, 'alice@example.org').length, 0)
  assert.equal(await sendOneReminder(taskCtx(ctx), { personId: alice, day: '2026-11-23' }), 'sent')
  assert.equal(await sendOneReminder(taskCtx(ctx), { personId: alice, day: '2026-11-23' }), 'already-claimed')
  assert.equal(reminders(ctx, 'alice@example.org').length, 1)
})

test('a person with a phone and an email gets the reminder by the preferred kind', async (t) => {
  for (const [order, expected] of [
    ['phone email', '+447400123456'],
    ['email', 'dora@example.org'],
  ] as const) {
    const ctx = await buildTestApp(t, { env: { ...fast, REMINDER_CONTACT_ORDER: order } })
    await signedIn(ctx, 'dora@example.org', 'Dora')
    const dora = await personIdOf(ctx, 'dora@example.org')
    await insertContact(ctx.app.ctx.db, {
      personId: dora,
      kind: 'phone',
      value: '+447400123456',
      at: ctx.clock.now(),
    })
    ctx.clock.set('2026-11-23T17:30:00Z')
    await sendReminders(taskCtx(ctx))
    const sent = ctx.outbox.filter((l) => l.includes('(reminder)'))
    assert.equal(sent.length, 1)
    assert.ok(sent[0]!.startsWith(`message to ${expected} `), `${order}: ${sent[0]}`)
  }
})

test('two workers on real Redis, both firing the schedule: one reminder per person', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, { env: { ...fast, REMINDER_TIME: '17:30' } })
  await signedIn(ctx, 'alice@example.org', 'Alice')
  await signedIn(ctx, 'bob@example.org', 'Bob')
  ctx.clock.set('2026-11-23T17:30:00Z')
  const one = redis.closeAtEnd(await startQueues(taskCtx(ctx), { redisUrl: redis.url }))
  const two = redis.closeAtEnd(await startQueues(taskCtx(ctx), { redisUrl: redis.url }))
  // Both the scheduled job and a manual run, on both workers.
  await one.tasks.add('send-reminders', {})
  await two.tasks.add('send-reminders', {})
  // Done when both task runs have finished and no reminder job is left: nothing more can be sent.
  await eventually(async () => {
    const tasks = await one.tasks.getJobCounts('completed', 'failed')
    const left = await one.reminders.getJobCounts('waiting', 'active', 'delayed', 'prioritized')
    return tasks.completed === 2 && Object.values(left).every((n) => n === 0)
  }, 'both schedule runs and every reminder job to finish')
  assert.equal(reminders(ctx, 'alice@example.org').length, 1)
  assert.equal(reminders(ctx, 'bob@example.org').length, 1)
  const queued = await one.reminders.getJobs(['completed', 'waiting', 'active', 'delayed'])
  assert.equal(queued.length, 2, 'one job per person per day (job ids deduplicate)')
  assert.deepEqual((await planReminders(taskCtx(ctx))).personIds, [])
})

test('reminder links: opening does nothing, "I’ve left" signs out at the tap, and then both links stop working, as the message says', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  const alice = await signedIn(ctx, 'alice@example.org', 'Alice')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  const message = reminders(ctx, 'alice@example.org')[0]!
  const { left, stillHere } = links(message)
  // "Still here" may be answered again (a second answer's time counts), so not "each link works once".
  assert.doesNotMatch(message, /Each link works once/)
  assert.match(message, /Once you have used the first link, both links stop working\./)
  const phone = new TestBrowser(ctx.app, '198.51.100.7')
  // What a browser sends when the one button of the form is tapped.
  const tap = (url: string) =>
    phone.request({
      method: 'POST',
      url,
      payload: '',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })

  const page = await phone.get(left)
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /I’ve left: sign me out now/)
  await alice.get('/')
  assert.match(
    alice.lastHtml,
    /You are <strong>signed in/,
    'a mail scanner opening the link signs nobody out',
  )

  ctx.clock.set('2026-11-23T17:41:00Z')
  const done = await tap(left)
  assert.equal(done.statusCode, 200)
  assert.match(done.body, /closed at 17:41/)
  const visit = await ctx.app.ctx.db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(visit.signed_out_at, Date.parse('2026-11-23T17:41:00Z'))
  assert.equal(visit.closed_by, 'person')

  assert.equal((await tap(left)).statusCode, 410)
  assert.equal((await phone.get(stillHere)).statusCode, 410, 'both links die once one is used')
  const forged = `${left.slice(0, -1)}${left.endsWith('A') ? 'B' : 'A'}`
  assert.equal((await phone.get(forged)).statusCode, 404)
  assert.equal((await phone.get('/r/1s0123456789012345678901')).statusCode, 404)
})

test('reminder links: "I left at" takes a time, refuses an impossible one, and "Still here" keeps the visit', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  await signedIn(ctx, 'alice@example.org', 'Alice')
  await signedIn(ctx, 'bob@example.org', 'Bob')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  const phone = new TestBrowser(ctx.app)
  const post = (url: string, fields: Record<string, string> = {}) => formPost(phone, url, fields)

  const alice = links(reminders(ctx, 'alice@example.org')[0]!)
  const early = await post(alice.left, { time: '08:00' })
  assert.equal(early.statusCode, 422)
  assert.match(early.body, /You signed in at 09:05, so you left after that/)
  assert.match(early.body, /value="08:00"/)
  const ok = await post(alice.left, { time: '17:00' })
  assert.equal(ok.statusCode, 200)
  const aliceId = await personIdOf(ctx, 'alice@example.org')
  const visit = await ctx.app.ctx.db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', aliceId)
    .executeTakeFirstOrThrow()
  assert.equal(visit.signed_out_at, Date.parse('2026-11-23T17:00:00Z'))

  const bob = links(reminders(ctx, 'bob@example.org')[0]!)
  const here = await post(bob.stillHere)
  assert.equal(here.statusCode, 200)
  assert.match(here.body, /You are still signed in/)
  const bobId = await personIdOf(ctx, 'bob@example.org')
  const open = await ctx.app.ctx.db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', bobId)
    .where('signed_out_at', 'is', null)
    .execute()
  assert.equal(open.length, 1)
  assert.equal((await post(bob.stillHere)).statusCode, 200, '"Still here" again is taken: the latest counts')

  // The links do not die as a pair: Bob stays, then leaves at 18:10 and says so.
  ctx.clock.set('2026-11-23T18:10:00Z')
  const later = await phone.get(bob.left)
  assert.equal(later.statusCode, 200)
  assert.match(later.body, /said you were still here at 17:30/)
  assert.match(later.body, /I left around 18:00/)
  const gone = await post(bob.left)
  assert.equal(gone.statusCode, 200)
  assert.match(gone.body, /closed at 18:10/)
  const closed = await ctx.app.ctx.db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', bobId)
    .executeTakeFirstOrThrow()
  assert.equal(closed.signed_out_at, Date.parse('2026-11-23T18:10:00Z'))
  assert.equal((await post(bob.left)).statusCode, 410, 'after "I\'ve left" both links are used')
  assert.equal((await post(bob.stillHere)).statusCode, 410)
})

test('reminder links: a refused time leaves no trace — the answer and its audit row are one unit with the close', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  await signedIn(ctx, 'alice@example.org', 'Alice')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  const phone = new TestBrowser(ctx.app)
  const alice = links(reminders(ctx, 'alice@example.org')[0]!)
  const aliceId = await personIdOf(ctx, 'alice@example.org')
  const db = ctx.app.ctx.db
  const answered = () =>
    db
      .selectFrom('audit_event')
      .select('detail')
      .where('person_id', '=', aliceId)
      .where('action', '=', 'reminder.answered')
      .execute()
  const reminder = () =>
    db
      .selectFrom('reminder')
      .select(['answer', 'answered_at'])
      .where('person_id', '=', aliceId)
      .executeTakeFirstOrThrow()

  // The answer is written first, then the close refuses 08:00 (before the 09:05 sign-in).
  assert.equal((await formPost(phone, alice.left, { time: '08:00' })).statusCode, 422)
  assert.deepEqual(await reminder(), { answer: null, answered_at: null }, 'the answer was not kept')
  assert.deepEqual(await answered(), [], 'no audit row for an answer that did not happen')

  assert.equal((await formPost(phone, alice.left, { time: '17:00' })).statusCode, 200)
  assert.equal((await reminder()).answer, 'left')
  assert.equal((await answered()).length, 1, 'one answer, one audit row')
})

test('reminder "I\'ve left" offers likely leaving times in one tap, and corrects a visit the night closed', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  await signedIn(ctx, 'alice@example.org', 'Alice')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  const alice = links(reminders(ctx, 'alice@example.org')[0]!)
  const phone = new TestBrowser(ctx.app)
  const post = (url: string, fields: Record<string, string> = {}) => formPost(phone, url, fields)
  ctx.clock.set('2026-11-23T19:12:00Z')
  const page = await phone.get(alice.left)
  const offered = [...page.body.matchAll(/I left around (\d\d:\d\d)/g)].map((m) => m[1])
  assert.deepEqual(
    offered,
    ['19:00', '18:30', '18:00', '17:30'],
    'the half hours before now, and the reminder',
  )

  // Nobody answered before the nightly auto-close at 23:59.
  ctx.clock.set('2026-11-23T23:59:00Z')
  await autoClose(taskCtx(ctx))
  ctx.clock.set('2026-11-24T07:40:00Z')
  const morning = await phone.get(alice.left)
  assert.match(morning.body, /closed your visit automatically as of 23:59, because you had not signed out/)
  const settings = fireListSettings(ctx.config)
  const before = await fireList(ctx.app.ctx.db, ctx.clock.now(), settings)
  assert.deepEqual(
    before.unconfirmed.map((p) => p.reason?.kind),
    ['auto-closed'],
    'on the fire list until she says',
  )
  const early = await post(alice.left, { time: '08:00' })
  assert.equal(early.statusCode, 422, 'before the sign-in')
  const done = await post(alice.left, { time: '18:40' })
  assert.equal(done.statusCode, 200)
  assert.match(done.body, /closed at 18:40/)
  const aliceId = await personIdOf(ctx, 'alice@example.org')
  const visit = await ctx.app.ctx.db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', aliceId)
    .executeTakeFirstOrThrow()
  assert.equal(visit.closed_by, 'person', 'corrected by the person')
  assert.equal(visit.signed_out_at, Date.parse('2026-11-23T18:40:00Z'))
  const after = await fireList(ctx.app.ctx.db, ctx.clock.now(), settings)
  assert.equal(after.counts.total, 0, 'she said she left: off the fire list')
})

test('worker: the reminder queue is rate limited, so a burst never exceeds REMINDER_MAX_PER_MINUTE', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, { env: { ...fast, REMINDER_MAX_PER_MINUTE: '2' } })
  for (const name of ['Alice', 'Bob', 'Carol']) await signedIn(ctx, `${name.toLowerCase()}@example.org`, name)
  ctx.clock.set('2026-11-23T17:30:00Z')
  const queues = redis.closeAtEnd(await startQueues(taskCtx(ctx), { redisUrl: redis.url }))
  await queues.tasks.add('send-reminders', {})
  const sent = () => ctx.outbox.filter((l) => l.includes('(reminder)')).length
  // The limiter has engaged once two went out: the third cannot run until its window of a minute ends.
  // (A job is marked completed a moment after its message went out: wait for both.)
  await eventually(
    async () =>
      sent() === 2 &&
      (await queues.reminders.getJobCounts('completed')).completed === 2 &&
      (await queues.reminders.getRateLimitTtl(2)) > 30_000,
    () => `the first two reminders out and completed, and the limiter engaged (sent ${sent()})`,
  )
  assert.equal(sent(), 2, 'the third waits for the next minute')
  const counts = await queues.reminders.getJobCounts('completed', 'waiting', 'delayed', 'active')
  assert.equal(counts.completed, 2)
  assert.equal((counts.waiting ?? 0) + (counts.delayed ?? 0) + (counts.active ?? 0), 1)
})

test('reminder links: "I’ve left" after signing out some other way changes nothing; the links still work until the first is used, as the message says', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  const alice = await signedIn(ctx, 'alice@example.org', 'Alice')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  await alice.get('/')
  await alice.post('/sign-out', { day: '2026-11-23' })
  const message = reminders(ctx, 'alice@example.org')[0]!
  const { left, stillHere } = links(message)
  const phone = new TestBrowser(ctx.app)
  // Signing out at the door does not end the links ("Still here" then says the register has them out).
  assert.doesNotMatch(message, /Once you have signed out, both links stop working/)
  assert.equal((await phone.get(stillHere)).statusCode, 200)
  const page = await phone.get(left)
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /You are already signed out/)
  const done = await phone.request({
    method: 'POST',
    url: left,
    payload: '',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  assert.equal(done.statusCode, 200)
  assert.match(done.body, /You were already signed out, so nothing changed/)
  const visit = await ctx.app.ctx.db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(visit.closed_by, 'person')
  assert.equal(visit.signed_out_at, Date.parse('2026-11-23T17:30:00Z'))
  assert.equal((await phone.get(stillHere)).statusCode, 410, 'the first link used: both stop working')
})

test('the reminder goes by Web Push first; SMS or email only when push is off or gone', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  const push = await startFakePushService()
  t.after(() => push.close())
  const alice = await signedIn(ctx, 'alice@example.org', 'Alice')
  const bob = await signedIn(ctx, 'bob@example.org', 'Bob')
  for (const browser of [alice, bob]) {
    await browser.get('/profile')
    const saved = await browser.request({
      method: 'POST',
      url: '/push/subscriptions',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      payload: JSON.stringify({ ...push.subscribe().json, _csrf: browser.csrfToken() }),
    })
    assert.equal(saved.statusCode, 201, saved.body)
  }
  const bobId = await personIdOf(ctx, 'bob@example.org')
  ctx.clock.set('2026-11-23T17:30:00Z')
  // Bob's browser has dropped its subscription: the push service says 410 for him.
  const bobEndpoint = (
    await ctx.app.ctx.db
      .selectFrom('push_subscription')
      .select('endpoint')
      .where('person_id', '=', bobId)
      .executeTakeFirstOrThrow()
  ).endpoint
  push.state.status = 201
  const aliceRun = await sendOneReminder(taskCtx(ctx), {
    personId: await personIdOf(ctx, 'alice@example.org'),
    day: '2026-11-23',
  })
  push.state.status = 410
  const bobRun = await sendOneReminder(taskCtx(ctx), { personId: bobId, day: '2026-11-23' })
  assert.equal(aliceRun, 'sent', 'Alice is reminded')
  assert.equal(bobRun, 'sent', 'Bob is reminded, by email once his push subscription is gone')
  assert.equal(reminders(ctx, 'alice@example.org').length, 0, 'Alice got a push, so no email')
  assert.equal(push.received.filter((r) => !bobEndpoint.endsWith(r.path)).length, 1)
  assert.equal(reminders(ctx, 'bob@example.org').length, 1, 'Bob falls back to email')
  const left = await ctx.app.ctx.db.selectFrom('push_subscription').select('person_id').execute()
  assert.deepEqual(
    left.map((r) => r.person_id),
    [await personIdOf(ctx, 'alice@example.org')],
    'the gone subscription is removed',
  )
  const rows = await ctx.app.ctx.db
    .selectFrom('reminder')
    .select(['person_id', 'channel'])
    .orderBy('person_id')
    .execute()
  assert.deepEqual(
    rows.map((r) => r.channel?.split(':')[0]),
    ['push', 'email'],
  )
})

test('pacing leaves no abort listener behind on the signal (no MaxListenersExceededWarning)', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  for (const name of ['Ann', 'Ben', 'Cat', 'Dev', 'Eli']) await signedIn(ctx, `${name}@example.org`, name)
  ctx.clock.set('2026-11-23T17:30:00Z')
  const controller = new AbortController()
  const result = await sendReminders(taskCtx(ctx), { signal: controller.signal })
  assert.deepEqual(result.outcomes, { sent: 5 })
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0)
})

/**
 * Answers Bob's reminder now: with a link in the reminder's message, or a button on the reminder's
 * notification (its token names the reminded visit and was signed when the reminder went out).
 * Returns the status and what he is told: the page, or the message the service worker shows.
 */
async function answerBobsReminder(
  ctx: TestApp,
  id: number,
  via: 'link' | 'push',
  action: 'left' | 'still-here',
): Promise<{ status: number; told: string }> {
  const { db, keys } = ctx.app.ctx
  const push = async () => {
    const reminder = await db
      .selectFrom('reminder')
      .select(['visit_id', 'sent_at'])
      .where('person_id', '=', id)
      .executeTakeFirstOrThrow()
    const token = signPushActionToken(keys.links, {
      personId: id,
      visitId: reminder.visit_id,
      expiresAt: Number(reminder.sent_at) + 12 * 60 * 60 * 1000,
    })
    return ctx.app.inject({
      method: 'POST',
      url: '/push/action',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      payload: JSON.stringify({ token, action }),
    })
  }
  const link = links(reminders(ctx, 'bob@example.org')[0]!)
  const answer =
    via === 'link'
      ? await formPost(new TestBrowser(ctx.app), action === 'left' ? link.left : link.stillHere)
      : await push()
  const told =
    via === 'link' ? answer.body : ((answer.json() as { message?: string; error?: string }).message ?? '')
  return { status: answer.statusCode, told }
}

/** Answers "Still here" now (answerBobsReminder); what he is told. */
async function sayStillHere(ctx: TestApp, id: number, via: 'link' | 'push') {
  const { status, told } = await answerBobsReminder(ctx, id, via, 'still-here')
  assert.equal(status, 200, told)
  return told
}

/**
 * Bob, signed in at 09:05, is reminded at 17:30 and answers "Still here" at 17:31: with the link in
 * the message, or with the button on a notification of the reminder.
 */
async function bobSaysStillHere(ctx: TestApp, via: 'link' | 'push' = 'link') {
  const bob = await bobReminded(ctx)
  ctx.clock.set('2026-11-23T17:31:00Z')
  await sayStillHere(ctx, bob.id, via)
  return bob
}

/** Bob, signed in at 09:05, reminded at 17:30 (by email: no notifications on his phone). */
async function bobReminded(ctx: TestApp) {
  const browser = await signedIn(ctx, 'bob@example.org', 'Bob')
  const id = await personIdOf(ctx, 'bob@example.org')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  return { browser, id }
}

/** Bob's phone sends now the sign-out he tapped at `tappedAt` (ISO): overtaken. The fire list then. */
async function bobsSavedSignOutIsOvertaken(ctx: TestApp, bob: { browser: TestBrowser }, tappedAt: string) {
  const sent = await sendSavedTap(bob.browser, {
    action: 'sign-out',
    at: Date.parse(tappedAt),
    sentAt: ctx.clock.now(),
    key: `bob-${tappedAt}`,
  })
  assert.equal(sent.statusCode, 200, sent.body)
  assert.equal(sent.json().applied, false, sent.json().message)
  return fireList(ctx.app.ctx.db, ctx.clock.now(), fireListSettings(ctx.config))
}

for (const via of ['link', 'push'] as const) {
  test(`"Still here" (${via}) overtakes a sign-out saved offline before it and sent after: the visit stays open, on the fire list`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    // 17:00: Bob taps "Sign out" in the lift with no signal; the phone keeps it (no Background Sync).
    const bob = await bobSaysStillHere(ctx, via)
    // 18:00: he opens the app, which sends the tap it kept.
    ctx.clock.set('2026-11-23T18:00:00Z')
    const list = await bobsSavedSignOutIsOvertaken(ctx, bob, '2026-11-23T17:00:00Z')
    assert.deepEqual(
      list.in.map((p) => p.personId),
      [bob.id],
      'in: he said Still here at 17:31, after the tap',
    )
  })
}

test('"Still here" after a sign-out saved offline keeps the auto-close when the tap arrives after it: still Unconfirmed', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  // 17:10: "Sign out" with no signal; 17:31: "Still here"; 23:59: the auto-close; 00:10: the tap arrives.
  const bob = await bobSaysStillHere(ctx)
  ctx.clock.set('2026-11-23T23:59:00Z')
  assert.deepEqual(await autoClose(taskCtx(ctx)), { closed: 1 })
  ctx.clock.set('2026-11-24T00:10:00Z')
  const list = await bobsSavedSignOutIsOvertaken(ctx, bob, '2026-11-23T17:10:00Z')
  assert.deepEqual(
    list.unconfirmed.map((p) => [p.personId, p.reason?.kind]),
    [[bob.id, 'auto-closed']],
    'nobody saw him leave after 17:31',
  )
})

for (const [first, second] of [
  ['push', 'link'],
  ['link', 'push'],
] as const) {
  test(`a second "Still here" (${first}, then ${second}) counts from its own time: a sign-out saved offline between the two answers does not close the visit`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const bob = await bobSaysStillHere(ctx, first)
    // 17:45: "Sign out" in the lift with no signal; he goes back to his desk, and at 18:15 says it again.
    ctx.clock.set('2026-11-23T18:15:00Z')
    await sayStillHere(ctx, bob.id, second)
    ctx.clock.set('2026-11-23T18:30:00Z')
    const list = await bobsSavedSignOutIsOvertaken(ctx, bob, '2026-11-23T17:45:00Z')
    assert.deepEqual(
      list.in.map((p) => [p.personId, p.stillHereAt]),
      [[bob.id, Date.parse('2026-11-23T18:15:00Z')]],
      'in: he said Still here at 18:15, after the tap',
    )
    // Both answers stay in the audit trail, the first with its own time.
    const answers = await ctx.app.ctx.db
      .selectFrom('audit_event')
      .select('at')
      .where('person_id', '=', bob.id)
      .where('action', '=', 'reminder.answered')
      .orderBy('at')
      .execute()
    assert.deepEqual(
      answers.map((a) => new Date(Number(a.at)).toISOString()),
      ['2026-11-23T17:31:00.000Z', '2026-11-23T18:15:00.000Z'],
    )
  })
}

/** What the register tells someone who says "Still here" once it has them out. */
const toldSignedOut = /The register has you signed out.*if you are still in the building.*sign in again/

for (const via of ['link', 'push'] as const) {
  test(`"Still here" (${via}) after a sign-out saved before it closed the visit: he is told the register has him out, not that he is still signed in`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const { browser: bob, id } = await bobReminded(ctx)
    // 17:40: "Sign out" in the lift with no signal; 18:00 the phone sends it; 18:01, back at his desk,
    // he answers the reminder "Still here".
    ctx.clock.set('2026-11-23T18:00:00Z')
    const sent = await sendSavedTap(bob, {
      action: 'sign-out',
      at: Date.parse('2026-11-23T17:40:00Z'),
      sentAt: ctx.clock.now(),
      key: 'bob-1740',
    })
    assert.equal(sent.json().applied, true, sent.json().message)
    ctx.clock.set('2026-11-23T18:01:00Z')
    if (via === 'link') {
      const page = await new TestBrowser(ctx.app).get(links(reminders(ctx, 'bob@example.org')[0]!).stillHere)
      assert.doesNotMatch(page.body, /We will keep you signed in/)
      assert.match(page.body, /The register has you signed out/)
    }
    const told = await sayStillHere(ctx, id, via)
    assert.doesNotMatch(told, /You are still signed in|already closed/)
    assert.match(told, toldSignedOut)
    // Recorded as an answer all the same, whichever way it came.
    const answer = await ctx.app.ctx.db
      .selectFrom('reminder')
      .select(['answer', 'answered_at'])
      .executeTakeFirstOrThrow()
    assert.deepEqual(answer, { answer: 'still-here', answered_at: Date.parse('2026-11-23T18:01:00Z') })
  })

  test(`"Still here" (${via}) after the nightly auto-close is recorded: a sign-out saved before it, sent later, does not take him off the fire list`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    // 17:40: "Sign out" in the lift with no signal (kept on the phone); 23:59: the auto-close; 00:10,
    // still at his desk, he answers the reminder "Still here"; 00:20: the phone sends the 17:40 tap.
    const { browser: bob, id } = await bobReminded(ctx)
    ctx.clock.set('2026-11-23T23:59:00Z')
    assert.deepEqual(await autoClose(taskCtx(ctx)), { closed: 1 })
    ctx.clock.set('2026-11-24T00:10:00Z')
    const told = await sayStillHere(ctx, id, via)
    ctx.clock.set('2026-11-24T00:20:00Z')
    const list = await bobsSavedSignOutIsOvertaken(ctx, { browser: bob }, '2026-11-23T17:40:00Z')
    assert.deepEqual(
      list.unconfirmed.map((p) => [p.personId, p.reason?.kind, p.stillHereAt]),
      [[id, 'auto-closed', Date.parse('2026-11-24T00:10:00Z')]],
      'nobody saw him leave after 00:10: Unconfirmed, "said Still here at 00:10"',
    )
    assert.match(told, toldSignedOut, 'the auto-close has him out: he is asked to sign in again')
  })
}

/** Bob, reminded at 17:30, signs out at 17:40 (sent at once) and, back at 18:00, in again: his id. */
async function bobOutAndInAgain(ctx: TestApp): Promise<number> {
  const { browser: bob, id } = await bobReminded(ctx)
  ctx.clock.set('2026-11-23T17:40:00Z')
  await bob.post('/sign-out', { day: '2026-11-23' })
  ctx.clock.set('2026-11-23T18:00:00Z')
  await bob.post('/sign-in', { day: '2026-11-23' })
  return id
}

for (const via of ['link', 'push'] as const) {
  test(`"Still here" (${via}) about a visit closed since, once signed in again: he is told he is signed in, not asked to sign in again`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const id = await bobOutAndInAgain(ctx)
    // 18:05: "Still here" from the reminder of the first visit.
    ctx.clock.set('2026-11-23T18:05:00Z')
    if (via === 'link') {
      const page = await new TestBrowser(ctx.app).get(links(reminders(ctx, 'bob@example.org')[0]!).stillHere)
      assert.doesNotMatch(page.body, /has you signed out|sign in again/)
      assert.match(page.body, /You are signed in/)
    }
    const told = await sayStillHere(ctx, id, via)
    assert.doesNotMatch(told, /sign in again/)
    assert.match(told, /Thanks\. You are signed in\./)
    const list = await fireList(ctx.app.ctx.db, ctx.clock.now(), fireListSettings(ctx.config))
    assert.deepEqual(
      list.in.map((p) => p.personId),
      [id],
    )
  })
}

/** Bob's reminded visit (his first) and his reminder's answer. */
async function bobsVisitAndAnswer(ctx: TestApp, id: number) {
  const { db } = ctx.app.ctx
  const visit = await db
    .selectFrom('visit')
    .select(['signed_out_at', 'closed_by'])
    .where('person_id', '=', id)
    .orderBy('id')
    .executeTakeFirstOrThrow()
  const reminder = await db
    .selectFrom('reminder')
    .select(['answer', 'answered_at'])
    .where('person_id', '=', id)
    .executeTakeFirstOrThrow()
  return { ...visit, ...reminder }
}

const nov = (iso: string) => Date.parse(`2026-11-${iso}:00Z`)

for (const via of ['link', 'push'] as const) {
  test(`"I’ve left" (${via}) while the reminded visit is open signs him out at the tap, and "left" is the reminder's answer`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const { id } = await bobReminded(ctx)
    ctx.clock.set('2026-11-23T17:41:00Z')
    const { status, told } = await answerBobsReminder(ctx, id, via, 'left')
    assert.equal(status, 200, told)
    assert.match(told, /closed at 17:41/)
    assert.deepEqual(await bobsVisitAndAnswer(ctx, id), {
      signed_out_at: nov('23T17:41'),
      closed_by: 'person',
      answer: 'left',
      answered_at: nov('23T17:41'),
    })
  })

  test(`"I’ve left" (${via}) after the nightly auto-close corrects the visit, closed by him: no longer Unconfirmed on the fire list`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const { id } = await bobReminded(ctx)
    ctx.clock.set('2026-11-23T23:59:00Z')
    assert.deepEqual(await autoClose(taskCtx(ctx)), { closed: 1 })
    // 00:10, still within the notification's 12 hours.
    ctx.clock.set('2026-11-24T00:10:00Z')
    const settings = fireListSettings(ctx.config)
    const before = await fireList(ctx.app.ctx.db, ctx.clock.now(), settings)
    assert.deepEqual(
      before.unconfirmed.map((p) => [p.personId, p.reason?.kind]),
      [[id, 'auto-closed']],
    )
    const { status, told } = await answerBobsReminder(ctx, id, via, 'left')
    assert.equal(status, 200, told)
    assert.doesNotMatch(told, /already closed/)
    assert.match(told, /closed at 23:59/)
    assert.deepEqual(await bobsVisitAndAnswer(ctx, id), {
      signed_out_at: nov('23T23:59'),
      closed_by: 'person',
      answer: 'left',
      answered_at: nov('24T00:10'),
    })
    const after = await fireList(ctx.app.ctx.db, ctx.clock.now(), settings)
    assert.equal(after.counts.total, 0, 'he said he left: off the fire list')
  })

  test(`"I’ve left" (${via}) about a visit he ended, once he has signed in again: he is told he is signed in (since when) and where to sign out, not that he is signed out`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const id = await bobOutAndInAgain(ctx)
    // 18:30, leaving, he taps "I’ve left" in the reminder about the first visit.
    ctx.clock.set('2026-11-23T18:30:00Z')
    if (via === 'link') {
      const page = await new TestBrowser(ctx.app).get(links(reminders(ctx, 'bob@example.org')[0]!).left)
      assert.doesNotMatch(page.body, /already signed out/)
      assert.match(page.body, /You signed in again at 18:00/)
    }
    const { status, told } = await answerBobsReminder(ctx, id, via, 'left')
    assert.equal(status, 200, told)
    assert.doesNotMatch(told, /already signed out/)
    assert.match(
      told,
      /You signed in again at 18:00 and are still signed in: open the register to sign out\./,
    )
    // The link is about the first visit: the second stays open (he is on the fire list until he signs out).
    const list = await fireList(ctx.app.ctx.db, ctx.clock.now(), fireListSettings(ctx.config))
    assert.deepEqual(
      list.in.map((p) => p.personId),
      [id],
    )
  })

  test(`"I’ve left" (${via}) after a sign-out saved on his phone closed the visit changes nothing, and is the reminder's answer`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const { browser: bob, id } = await bobReminded(ctx)
    ctx.clock.set('2026-11-23T18:00:00Z')
    const sent = await sendSavedTap(bob, {
      action: 'sign-out',
      at: nov('23T17:40'),
      sentAt: ctx.clock.now(),
      key: 'bob-1740',
    })
    assert.equal(sent.json().applied, true, sent.json().message)
    ctx.clock.set('2026-11-23T18:01:00Z')
    const { status, told } = await answerBobsReminder(ctx, id, via, 'left')
    assert.equal(status, 200, told)
    assert.match(told, /You were already signed out, so nothing changed/)
    assert.deepEqual(await bobsVisitAndAnswer(ctx, id), {
      signed_out_at: nov('23T17:40'),
      closed_by: 'person',
      answer: 'left',
      answered_at: nov('23T18:01'),
    })
    // Audited as every answer is, with the channel it came by.
    const audited = await ctx.app.ctx.db
      .selectFrom('audit_event')
      .select(['at', 'detail'])
      .where('person_id', '=', id)
      .where('action', '=', 'reminder.answered')
      .execute()
    assert.deepEqual(
      audited.map((a) => [Number(a.at), JSON.parse(a.detail).answer, JSON.parse(a.detail).via]),
      [[nov('23T18:01'), 'left', via === 'push' ? 'push' : undefined]],
    )
  })

  test(`"I’ve left" (${via}) once the reminder was answered "I’ve left" changes nothing`, async (t) => {
    const ctx = await buildTestApp(t, { env: fast })
    const { id } = await bobReminded(ctx)
    ctx.clock.set('2026-11-23T17:41:00Z')
    assert.equal((await answerBobsReminder(ctx, id, via, 'left')).status, 200)
    ctx.clock.set('2026-11-23T17:50:00Z')
    const again = await answerBobsReminder(ctx, id, via, 'left')
    // The link's page is a 410 ("already been used"); the notification shows its message.
    assert.equal(again.status, via === 'link' ? 410 : 200, again.told)
    assert.match(again.told, /already/)
    assert.deepEqual(await bobsVisitAndAnswer(ctx, id), {
      signed_out_at: nov('23T17:41'),
      closed_by: 'person',
      answer: 'left',
      answered_at: nov('23T17:41'),
    })
  })
}

test('"Still here" handled a moment late (another process) never moves the answer back; none after "I’ve left"', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  await signedIn(ctx, 'bob@example.org', 'Bob')
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders(taskCtx(ctx))
  const { db } = ctx.app.ctx
  const reminder = () =>
    db.selectFrom('reminder').select(['id', 'answer', 'answered_at']).executeTakeFirstOrThrow()
  const { id } = await reminder()
  const time = (hhmm: string) => Date.parse(`2026-11-23T${hhmm}:00Z`)
  assert.equal(await answerReminder(db, id, 'still-here', time('18:15')), true)
  assert.equal(await answerReminder(db, id, 'still-here', time('18:14')), true, 'taken')
  assert.deepEqual(
    await reminder(),
    { id, answer: 'still-here', answered_at: time('18:15') },
    'the later time stays',
  )
  assert.equal(await answerReminder(db, id, 'left', time('18:40')), true)
  assert.equal(
    await answerReminder(db, id, 'still-here', time('18:50')),
    false,
    'the links were used to leave',
  )
  assert.deepEqual(await reminder(), { id, answer: 'left', answered_at: time('18:40') })
})
