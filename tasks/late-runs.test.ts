import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import type { Job } from 'bullmq'
import { sql } from 'kysely'
import { fireList, fireListSettings } from '../server/reception/presence.service.js'
import { signIn } from '../server/register/register.service.js'
import { buildTestApp, type TestApp } from '../server/testing/build-test-app.js'
import { eventually } from '../server/testing/eventually.js'
import { makePerson } from '../server/testing/factories.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { signInVisitor } from '../server/visitors/visitor.service.js'
import { SCHEDULER_LEASE, startEmbeddedJobs } from './embedded.js'
import { type RunningQueues, startQueues } from './queues.js'

// A scheduled run that happens late (the worker was down at its time and picks the overdue job
// up on start, a retry, the embedded scheduler catching up after a restart) must do the work of
// its own occurrence: nothing that happened after it, and nothing on a day it was not meant for.

const context = { ip: '-', userAgent: 'test' }
const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

async function person(ctx: TestApp, firstName: string): Promise<number> {
  return makePerson(ctx.app.ctx.db, {
    firstName,
    lastName: 'Test',
    email: `${firstName.toLowerCase()}@example.org`,
  })
}

async function signInAt(ctx: TestApp, personId: number, at: number): Promise<void> {
  await signIn(ctx.app.ctx.db, { personId, now: at, context }, { timeZone: ctx.config.TIME_ZONE })
}

async function visitorAt(ctx: TestApp, name: string, hostId: number, at: number): Promise<number> {
  const { visitor } = await signInVisitor(
    ctx.app.ctx.db,
    {
      input: { name, hostId },
      source: { via: 'reception', kiosk: null, personId: null, context },
      at,
      now: at,
      noticeId: null,
    },
    { timeZone: ctx.config.TIME_ZONE, defaultRegion: ctx.config.DEFAULT_PHONE_REGION },
  )
  return visitor.id
}

const openVisit = (ctx: TestApp, personId: number) =>
  ctx.app.ctx.db.selectFrom('visit').selectAll().where('person_id', '=', personId).executeTakeFirstOrThrow()

/** The worker's next occurrence of a schedule: its delayed job and when it is due. */
async function nextOccurrence(queues: RunningQueues, name: string): Promise<{ job: Job; dueAt: number }> {
  const job = (await queues.tasks.getDelayed()).find((j) => j.name === name)
  assert.ok(job, `the ${name} scheduler queued its next occurrence`)
  return { job, dueAt: job.timestamp + (job.opts.delay ?? 0) }
}

/** Runs an overdue scheduled job now (as a worker that starts after its time does) and waits for it. */
async function runLate(queues: RunningQueues, job: Job): Promise<void> {
  await job.promote()
  const ran = () => queues.tasks.getJob(job.id!)
  await eventually(async () => {
    const now = await ran()
    return now?.finishedOn !== undefined || Boolean(now?.failedReason)
  }, `${job.name} to run`)
  assert.equal((await ran())?.failedReason, undefined, `${job.name} did not fail`)
}

test('worker down at 23:59, started at 00:05: the auto-close still runs for yesterday, and leaves alone who came in after 23:59', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, { env: { REMINDER_TIME: 'off', PURGE_TIME: 'off' } })
  const queues = redis.closeAtEnd(
    await startQueues({ ...ctx.app.ctx, log: ctx.app.log }, { redisUrl: redis.url }),
  )
  const { job, dueAt } = await nextOccurrence(queues, 'auto-close')

  const alice = await person(ctx, 'Alice')
  const bob = await person(ctx, 'Bob')
  await signInAt(ctx, alice, dueAt - 8 * 60 * MINUTE) // 15:59, forgot to sign out
  await signInAt(ctx, bob, dueAt + 3 * MINUTE) // 00:02, the night shift
  const early = await visitorAt(ctx, 'Vera Early', bob, dueAt - 60 * MINUTE)
  const late = await visitorAt(ctx, 'Nina Night', bob, dueAt + 4 * MINUTE)
  ctx.clock.set(new Date(dueAt + 6 * MINUTE).toISOString()) // the worker starts at 00:05
  await runLate(queues, job)

  const bobVisit = await openVisit(ctx, bob)
  assert.equal(
    bobVisit.signed_out_at,
    null,
    'Bob came in at 00:02 and is still inside: not closed by the 23:59 run',
  )
  const aliceVisit = await openVisit(ctx, alice)
  assert.equal(aliceVisit.closed_by, 'auto', 'the 23:59 run was not skipped: yesterday is closed')
  assert.equal(aliceVisit.signed_out_at, dueAt, 'closed at 23:59, not at 00:05')
  const visitor = (id: number) =>
    ctx.app.ctx.db.selectFrom('visitor').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  assert.equal((await visitor(early)).signed_out_at, dueAt, 'the visitor in before 23:59 is closed at 23:59')
  assert.equal((await visitor(late)).signed_out_at, null, 'the visitor who came at 00:03 is still inside')
})

test('worker down at 17:30 and started the next morning: nobody is asked at 09:00 whether they are still in', async (t) => {
  const redis = await TestRedis.start(t)
  const ctx = await buildTestApp(t, {
    env: { AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off', REMINDER_MAX_PER_MINUTE: '6000' },
  })
  const queues = redis.closeAtEnd(
    await startQueues({ ...ctx.app.ctx, log: ctx.app.log }, { redisUrl: redis.url }),
  )
  const { job, dueAt } = await nextOccurrence(queues, 'send-reminders')

  const carol = await person(ctx, 'Carol')
  await signInAt(ctx, carol, dueAt + 15 * 60 * MINUTE) // 08:30 the next day
  ctx.clock.set(new Date(dueAt + 15.5 * 60 * MINUTE).toISOString()) // the worker starts at 09:00
  await runLate(queues, job)

  const counts = await queues.reminders.getJobCounts()
  assert.deepEqual(
    Object.entries(counts).filter(([, n]) => n > 0),
    [],
    'no reminder was queued for the new day from yesterday’s 17:30 run',
  )
  assert.equal(
    await ctx.app.ctx.db.selectFrom('reminder').select('id').executeTakeFirst(),
    undefined,
    'no reminder claimed',
  )
})

test('embedded, down at 23:59 (a restart), started at 00:05: it catches the missed auto-close up, as of 23:59', async (t) => {
  const ctx = await buildTestApp(t, { env: { REMINDER_TIME: 'off', PURGE_TIME: 'off' } })
  const { db } = ctx.app.ctx
  const dueAt = Date.parse('2026-11-23T23:59:00Z') // Europe/London: UTC in November
  // The register has run its nightly auto-close before, here: the night before was claimed.
  await db
    .insertInto('job_run')
    .values({ schedule_id: 'auto-close', due_at: dueAt - 24 * 60 * MINUTE, holder: 'old', started_at: 0 })
    .execute()
  const alice = await person(ctx, 'Alice')
  const bob = await person(ctx, 'Bob')
  await signInAt(ctx, alice, Date.parse('2026-11-23T09:00:00Z'))
  await signInAt(ctx, bob, Date.parse('2026-11-24T00:02:00Z'))
  ctx.clock.set('2026-11-24T00:05:00Z')

  const jobs = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
  t.after(() => jobs.stop())
  assert.equal(await jobs.holdsLease(), true)
  await eventually(
    async () => (await openVisit(ctx, alice)).closed_by === 'auto',
    'the missed auto-close to run',
  )
  await jobs.stop()
  assert.equal((await openVisit(ctx, bob)).signed_out_at, null, 'Bob, in since 00:02, is left alone')
  assert.equal((await openVisit(ctx, alice)).signed_out_at, dueAt, 'closed at 23:59')
  const runs = await db.selectFrom('job_run').select(['schedule_id', 'due_at']).orderBy('due_at').execute()
  assert.deepEqual(
    runs.map((r) => [r.schedule_id, Number(r.due_at)]),
    [
      ['auto-close', dueAt - 24 * 60 * MINUTE],
      ['auto-close', dueAt],
    ],
    'the caught-up occurrence is claimed, so no other process runs it again',
  )
})

test('embedded, down two nights and started at 13:00: the caught-up auto-close keeps whom it closed Unconfirmed on the fire list 12 hours from then', async (t) => {
  const ctx = await buildTestApp(t, { env: { REMINDER_TIME: 'off', PURGE_TIME: 'off' } })
  const { db } = ctx.app.ctx
  const dueAt = Date.parse('2026-11-24T23:59:00Z') // Tuesday's; Monday's was missed too
  await db
    .insertInto('job_run')
    .values({ schedule_id: 'auto-close', due_at: dueAt - 2 * 24 * 60 * MINUTE, holder: 'old', started_at: 0 })
    .execute()
  // Sam and a visitor from Monday (closed at the end of Monday), Tia from Tuesday (at 23:59).
  const sam = await person(ctx, 'Sam')
  const tia = await person(ctx, 'Tia')
  await signInAt(ctx, sam, Date.parse('2026-11-23T09:00:00Z'))
  await visitorAt(ctx, 'Vic Visitor', sam, Date.parse('2026-11-23T09:05:00Z'))
  await signInAt(ctx, tia, Date.parse('2026-11-24T09:00:00Z'))
  ctx.clock.set('2026-11-25T13:00:00Z')

  const jobs = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
  t.after(() => jobs.stop())
  assert.equal(await jobs.holdsLease(), true)
  await eventually(
    async () => (await openVisit(ctx, tia)).closed_by === 'auto',
    'the missed auto-close to run',
  )
  await jobs.stop()
  assert.equal((await openVisit(ctx, sam)).signed_out_at, Date.parse('2026-11-24T00:00:00Z') - 1)
  assert.equal((await openVisit(ctx, tia)).signed_out_at, dueAt)
  const listed = async (iso: string) => {
    const list = await fireList(db, Date.parse(iso), fireListSettings(ctx.config))
    return [
      ...list.unconfirmed.map((p) => `${p.firstName} ${p.reason?.kind}`),
      ...list.visitors.map((v) => v.name),
    ]
  }
  const unconfirmed = ['Sam auto-closed', 'Tia auto-closed', 'Vic Visitor']
  assert.deepEqual(await listed('2026-11-25T13:00:00Z'), unconfirmed, 'on the list after the catch-up')
  assert.deepEqual(await listed('2026-11-26T00:59:00Z'), unconfirmed, '12 hours from 13:00, when it ran')
  assert.deepEqual(await listed('2026-11-26T01:01:00Z'), [], 'and no longer')
})

/**
 * Ann and Ben are in at 17:30; the first of two embedded schedulers has sent Ann's reminder and, at
 * one reminder a minute, is pausing before Ben's.
 */
async function remindersUnderWay(t: TestContext) {
  const env = { AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off', REMINDER_MAX_PER_MINUTE: '1' }
  const ctx = await buildTestApp(t, { env })
  const { db } = ctx.app.ctx
  const dueAt = Date.parse('2026-11-23T17:30:00Z')
  await db
    .insertInto('job_run')
    .values({ schedule_id: 'send-reminders', due_at: dueAt - DAY, holder: 'old', started_at: 0 })
    .execute()
  for (const name of ['Ann', 'Ben'])
    await signInAt(ctx, await person(ctx, name), Date.parse('2026-11-23T09:00:00Z'))
  const reminded = () => ctx.outbox.filter((l) => / \(reminder\)/.test(l))
  ctx.clock.set(new Date(dueAt).toISOString())

  const first = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
  t.after(() => first.stop())
  assert.equal(await first.holdsLease(), true)
  void first.fireNow('send-reminders')
  await eventually(() => reminded().length === 1, 'the first reminder')
  return { ctx, db, dueAt, reminded, first }
}

test('embedded, stopped while sending the reminders (a rolling restart): the next process sends the rest, nobody twice', async (t) => {
  const { ctx, dueAt, reminded, first } = await remindersUnderWay(t)
  await first.stop() // SIGTERM: the pause before the second reminder is cut short

  ctx.clock.set(new Date(dueAt + 2 * MINUTE).toISOString()) // the new process is up at 17:32
  const second = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
  t.after(() => second.stop())
  assert.equal(await second.holdsLease(), true)
  await eventually(
    () => reminded().length === 2,
    () => `the second reminder; sent: ${reminded().join(' | ')}`,
  )
  await second.stop()
  const to = reminded().map((l) => /message to (\S+)/.exec(l)?.[1])
  assert.deepEqual(to.sort(), ['ann@example.org', 'ben@example.org'], 'each reminded once')
})

test('embedded, a database where the schedule never ran (a new install): nothing is caught up at start', async (t) => {
  const ctx = await buildTestApp(t, { env: { REMINDER_TIME: 'off', PURGE_TIME: 'off' } })
  const alice = await person(ctx, 'Alice')
  await signInAt(ctx, alice, Date.parse('2026-11-23T09:00:00Z'))
  ctx.clock.set('2026-11-24T00:05:00Z')
  const jobs = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
  t.after(() => jobs.stop())
  assert.equal(await jobs.holdsLease(), true)
  await jobs.stop() // waits for anything the start began
  assert.equal(
    (await openVisit(ctx, alice)).signed_out_at,
    null,
    'left for the first 23:59 this install sees',
  )
  assert.equal(await ctx.app.ctx.db.selectFrom('job_run').select('due_at').executeTakeFirst(), undefined)
})

test('embedded: an auto-close that failed (the database refused it) is tried again a minute later, as the worker retries', async (t) => {
  const ctx = await buildTestApp(t, { env: { REMINDER_TIME: 'off', PURGE_TIME: 'off' }, embeddedJobs: true })
  const { db } = ctx.app.ctx
  const jobs = ctx.app.embeddedJobs!
  const alice = await person(ctx, 'Alice')
  await signInAt(ctx, alice, Date.parse('2026-11-23T09:00:00Z'))
  const vera = await visitorAt(ctx, 'Vera Visitor', alice, Date.parse('2026-11-23T10:00:00Z'))
  const visitorOut = async () =>
    (await db.selectFrom('visitor').select('signed_out_at').where('id', '=', vera).executeTakeFirstOrThrow())
      .signed_out_at
  assert.equal(await jobs.holdsLease(), true)

  // The visitors' half of the 23:59 run fails: their table cannot be read at that moment.
  await sql`alter table visitor rename to visitor_away`.execute(db)
  ctx.clock.set('2026-11-23T23:59:00Z')
  await jobs.fireNow('auto-close')
  await sql`alter table visitor_away rename to visitor`.execute(db)
  assert.equal(await visitorOut(), null, 'the failed run left the visitor in')

  await jobs.catchUpNow()
  assert.equal(await visitorOut(), null, 'not retried at once')
  ctx.clock.set('2026-11-24T00:00:00Z') // a minute later (the lease renewal every 10 s looks)
  await jobs.catchUpNow()
  assert.equal(
    await visitorOut(),
    Date.parse('2026-11-23T23:59:00Z'),
    'the retry closed the visitor, at 23:59',
  )
  assert.equal((await openVisit(ctx, alice)).closed_by, 'auto')
})

/** A process that was killed (SIGKILL, OOM, a reboot), named as the embedded scheduler names itself. */
const KILLED = 'web-1:4242:dead0000'

for (const lease of ['expired', 'free'] as const) {
  test(`embedded, killed in the middle of the 23:59 auto-close (its lease ${lease}): the process that takes the lease runs it again, as of 23:59`, async (t) => {
    const ctx = await buildTestApp(t, { env: { REMINDER_TIME: 'off', PURGE_TIME: 'off' } })
    const { db } = ctx.app.ctx
    const dueAt = Date.parse('2026-11-23T23:59:00Z')
    const alice = await person(ctx, 'Alice')
    const bob = await person(ctx, 'Bob')
    await signInAt(ctx, alice, Date.parse('2026-11-23T09:00:00Z')) // forgot to sign out
    const vera = await visitorAt(ctx, 'Vera Visitor', alice, Date.parse('2026-11-23T10:00:00Z'))
    await signInAt(ctx, bob, Date.parse('2026-11-24T00:02:00Z'))
    // The night before ran here; 23:59 was claimed by a process that died before it finished,
    // so it neither finished nor gave the claim back.
    await db
      .insertInto('job_run')
      .values([
        { schedule_id: 'auto-close', due_at: dueAt - DAY, holder: 'old', started_at: dueAt - DAY },
        { schedule_id: 'auto-close', due_at: dueAt, holder: KILLED, started_at: dueAt },
      ])
      .execute()
    if (lease === 'expired') {
      await db
        .insertInto('job_lease')
        .values({ name: SCHEDULER_LEASE, holder: KILLED, expires_at: Date.now() - 1_000 })
        .execute()
    }
    ctx.clock.set('2026-11-24T00:05:00Z') // the platform restarted it at 00:05

    const jobs = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
    t.after(() => jobs.stop())
    assert.equal(await jobs.holdsLease(), true, 'the new process takes the lease')
    await jobs.catchUpNow() // the catch-up that taking the lease began

    const aliceVisit = await openVisit(ctx, alice)
    assert.equal(
      aliceVisit.closed_by,
      'auto',
      'the 23:59 auto-close was run: Alice is off the list of who is in',
    )
    assert.equal(aliceVisit.signed_out_at, dueAt, 'closed at 23:59, not at 00:05')
    const visitor = await db
      .selectFrom('visitor')
      .selectAll()
      .where('id', '=', vera)
      .executeTakeFirstOrThrow()
    assert.equal(visitor.signed_out_at, dueAt, 'the visitor too')
    assert.equal((await openVisit(ctx, bob)).signed_out_at, null, 'Bob, in since 00:02, is left alone')
    const holder = (await db.selectFrom('job_lease').select('holder').executeTakeFirstOrThrow()).holder
    const run = await db
      .selectFrom('job_run')
      .selectAll()
      .where('schedule_id', '=', 'auto-close')
      .where('due_at', '=', dueAt)
      .executeTakeFirstOrThrow()
    assert.equal(run.holder, holder, 'the occurrence is now claimed by the process that ran it')
    assert.notEqual(run.finished_at, null, 'and recorded as finished: nobody runs it a third time')
    await jobs.stop()
  })
}

test('embedded, two processes: a run still going in the process that holds the lease is not taken over by the other’s catch-up', async (t) => {
  const { ctx, db, dueAt, reminded, first } = await remindersUnderWay(t)
  ctx.clock.set(new Date(dueAt + 2 * MINUTE).toISOString())
  const second = startEmbeddedJobs({ ...ctx.app.ctx, log: ctx.app.log })
  t.after(() => second.stop())
  assert.equal(await second.holdsLease(), false, 'the first process still holds the lease')
  await second.catchUpNow()
  assert.equal(reminded().length, 1, 'the second process sent nothing: the run is still the first’s')
  const [lease] = await db.selectFrom('job_lease').select('holder').execute()
  const run = await db
    .selectFrom('job_run')
    .select(['holder'])
    .where('schedule_id', '=', 'send-reminders')
    .where('due_at', '=', dueAt)
    .executeTakeFirstOrThrow()
  assert.equal(run.holder, lease?.holder, 'still claimed by the process running it')
  await second.stop()
  await first.stop()
})
