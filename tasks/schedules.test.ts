import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Cron } from 'croner'
import { localDay } from '../server/lib/site-time.js'
import { buildTestApp, loginAs } from '../server/testing/build-test-app.js'
import { eventually } from '../server/testing/eventually.js'
import { TestRedis } from '../server/testing/redis-server.js'
import { startQueues } from './queues.js'
import { schedules } from './schedules.js'

test('the timetable: defaults, digest times, and "off"', async (t) => {
  const ctx = await buildTestApp(t, { env: { SLACK_DIGEST_TIMES: '10:00 14:00' } })
  assert.deepEqual(
    schedules(ctx.config).map((s) => [s.id, s.pattern]),
    [
      ['send-reminders', '30 17 * * *'],
      ['auto-close', '59 23 * * *'],
      ['purge', '30 3 * * *'],
      ['occupancy-digest-1000', '0 10 * * *'],
      ['occupancy-digest-1400', '0 14 * * *'],
    ],
  )
  const off = await buildTestApp(t, { env: { REMINDER_TIME: 'off', AUTO_CLOSE_TIME: '22:15' } })
  assert.deepEqual(
    schedules(off.config).map((s) => [s.id, s.pattern]),
    [
      ['auto-close', '15 22 * * *'],
      ['purge', '30 3 * * *'],
    ],
  )
})

test('embedded default: each schedule falls at the configured local time, across both DST changes', async (t) => {
  const ctx = await buildTestApp(t, { env: { SLACK_DIGEST_TIMES: '10:00' }, embeddedJobs: true })
  const jobs = ctx.app.embeddedJobs!
  const next = (id: string, from: string) => jobs.nextRun(id, new Date(from))?.toISOString()
  // Winter (GMT = UTC).
  assert.equal(next('send-reminders', '2026-11-23T09:05:00Z'), '2026-11-23T17:30:00.000Z')
  assert.equal(next('occupancy-digest-1000', '2026-11-23T09:05:00Z'), '2026-11-23T10:00:00.000Z')
  // Clocks go forward on Sunday 28 March 2027 at 01:00 UTC: 17:30 local is then 16:30 UTC.
  assert.equal(next('send-reminders', '2027-03-27T18:00:00Z'), '2027-03-28T16:30:00.000Z')
  assert.equal(next('auto-close', '2027-03-27T12:00:00Z'), '2027-03-27T23:59:00.000Z')
  assert.equal(next('auto-close', '2027-03-28T12:00:00Z'), '2027-03-28T22:59:00.000Z')
  assert.equal(next('purge', '2027-03-28T00:00:00Z'), '2027-03-28T02:30:00.000Z')
  // Clocks go back on Sunday 31 October 2027 at 01:00 UTC.
  assert.equal(next('auto-close', '2027-10-30T12:00:00Z'), '2027-10-30T22:59:00.000Z')
  assert.equal(next('auto-close', '2027-10-31T12:00:00Z'), '2027-10-31T23:59:00.000Z')
  assert.equal(next('send-reminders', '2027-10-31T00:30:00Z'), '2027-10-31T17:30:00.000Z')

  const ny = await buildTestApp(t, { env: { TIME_ZONE: 'America/New_York' }, embeddedJobs: true })
  assert.equal(
    ny.app.embeddedJobs!.nextRun('send-reminders', new Date('2026-11-23T12:00:00Z'))?.toISOString(),
    '2026-11-23T22:30:00.000Z',
  )
  assert.equal(ctx.app.embeddedJobs!.nextRun('no-such-job'), undefined)
})

test('embedded default: a schedule firing runs its task (the reminder goes out, the visit is closed), once per occurrence', async (t) => {
  const ctx = await buildTestApp(t, {
    env: { REMINDER_MAX_PER_MINUTE: '6000', PURGE_TIME: 'off' },
    embeddedJobs: true,
  })
  const jobs = ctx.app.embeddedJobs!
  const alice = await loginAs(ctx, 'alice@example.org')
  await alice.post('/sign-in', { day: '2026-11-23' })
  const reminders = () => ctx.outbox.filter((l) => l.startsWith('message to alice@example.org (reminder)'))
  assert.equal(await jobs.holdsLease(), true, 'the only process runs the jobs')

  ctx.clock.set('2026-11-23T17:30:00Z')
  assert.equal(await jobs.fireNow('send-reminders'), true)
  assert.equal(reminders().length, 1, 'the 17:30 schedule sent the reminder')
  assert.match(reminders()[0]!, /Are you still in the building\?/)
  await jobs.fireNow('send-reminders')
  assert.equal(reminders().length, 1, 'firing again (same minute, or a second process) sends nothing more')
  const runs = await ctx.app.ctx.db.selectFrom('job_run').select('schedule_id').execute()
  assert.ok(
    runs.some((r) => r.schedule_id === 'send-reminders'),
    `the occurrence is claimed: ${JSON.stringify(runs)}`,
  )

  ctx.clock.set('2026-11-23T23:59:00Z')
  await jobs.fireNow('auto-close')
  const visit = await ctx.app.ctx.db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(visit.closed_by, 'auto', 'the 23:59 schedule closed the open visit')
  assert.equal(await jobs.fireNow('purge'), false, 'a schedule turned off does not exist')
})

test('worker: BullMQ job schedulers in real Redis run at the local time croner computes, and run the task', async (t) => {
  const redis = await TestRedis.start(t)
  const env = { AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off', REMINDER_MAX_PER_MINUTE: '6000' }
  const ctx = await buildTestApp(t, { env })
  // BullMQ schedules on the real clock: the app's clock is set to the day of its next 17:30.
  const expected = new Cron('30 17 * * *', { timezone: 'Europe/London' }).nextRun()!.getTime()
  ctx.clock.set(new Date(expected - 8 * 3600_000).toISOString())
  const alice = await loginAs(ctx, 'alice@example.org')
  await alice.post('/sign-in', { day: localDay(expected, 'Europe/London') })
  ctx.clock.set(new Date(expected).toISOString())
  const taskCtx = { ...ctx.app.ctx, log: ctx.app.log }
  const queues = redis.closeAtEnd(await startQueues(taskCtx, { redisUrl: redis.url }))

  const scheduler = await queues.tasks.getJobScheduler('send-reminders')
  assert.equal(scheduler?.pattern, '30 17 * * *')
  assert.equal(scheduler?.tz, 'Europe/London')
  assert.equal(scheduler?.next, expected, 'BullMQ and croner agree on the next local 17:30')
  const [delayed] = await queues.tasks.getDelayed()
  assert.equal(delayed?.name, 'send-reminders')
  assert.equal(delayed!.timestamp + (delayed!.opts.delay ?? 0), expected)

  // Bring the scheduled run forward instead of waiting for 17:30: the worker runs the real task.
  await delayed!.promote()
  await eventually(
    () => ctx.outbox.some((l) => l.startsWith('message to alice@example.org (reminder)')),
    'the scheduled job to send the reminder',
  )
  await queues.close()

  // The timetable in Redis follows the code: a schedule turned off is removed on the next start.
  const off = await buildTestApp(t, { env: { ...env, REMINDER_TIME: 'off' } })
  const again = redis.closeAtEnd(
    await startQueues({ ...off.app.ctx, log: off.app.log }, { redisUrl: redis.url }),
  )
  assert.equal(await again.tasks.getJobScheduler('send-reminders'), undefined)
})
