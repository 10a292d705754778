import assert from 'node:assert/strict'
import { test } from 'node:test'
import { defaultRepeatStrategy } from 'bullmq'
import { Cron } from 'croner'
import { signIn } from '../server/register/register.service.js'
import { buildTestApp, testConfig } from '../server/testing/build-test-app.js'
import { makePerson } from '../server/testing/factories.js'
import { schedules } from './schedules.js'

// Both tiers read the same patterns in TIME_ZONE: croner in the embedded default, BullMQ's job
// schedulers (cron-parser, through defaultRepeatStrategy) in the worker.

const HOUR = 3600_000

/** Each occurrence from `from` to `to`, as croner (embedded) and BullMQ (worker) compute them. */
function occurrences(pattern: string, tz: string, from: string, to: string) {
  const end = Date.parse(to)
  const cron = new Cron(pattern, { timezone: tz, paused: true })
  const embedded: string[] = []
  for (let at = cron.nextRun(new Date(from)); at && at.getTime() < end; at = cron.nextRun(at))
    embedded.push(at.toISOString())
  const worker: string[] = []
  for (let at = defaultRepeatStrategy(Date.parse(from), { pattern, tz }); at && at < end; ) {
    worker.push(new Date(at).toISOString())
    at = defaultRepeatStrategy(at, { pattern, tz })
  }
  return { embedded, worker }
}

test('the days the clocks change (Europe/London 2026-03-29 and 2026-10-25): each job runs once a day at its local time, on both tiers', () => {
  const config = testConfig({ SLACK_DIGEST_TIMES: '10:00' })
  const expected: Record<string, [string, string[]][]> = {
    // Clocks go forward at 01:00 UTC on Sunday 29 March: local times are an hour earlier in UTC.
    '2026-03-28T12:00:00Z': [
      ['send-reminders', ['2026-03-28T17:30:00.000Z', '2026-03-29T16:30:00.000Z']],
      ['auto-close', ['2026-03-28T23:59:00.000Z', '2026-03-29T22:59:00.000Z']],
      ['purge', ['2026-03-29T02:30:00.000Z', '2026-03-30T02:30:00.000Z']],
      ['occupancy-digest-1000', ['2026-03-29T09:00:00.000Z', '2026-03-30T09:00:00.000Z']],
    ],
    // Clocks go back at 01:00 UTC on Sunday 25 October.
    '2026-10-24T12:00:00Z': [
      ['send-reminders', ['2026-10-24T16:30:00.000Z', '2026-10-25T17:30:00.000Z']],
      ['auto-close', ['2026-10-24T22:59:00.000Z', '2026-10-25T23:59:00.000Z']],
      ['purge', ['2026-10-25T03:30:00.000Z', '2026-10-26T03:30:00.000Z']],
      ['occupancy-digest-1000', ['2026-10-25T10:00:00.000Z', '2026-10-26T10:00:00.000Z']],
    ],
  }
  for (const [from, want] of Object.entries(expected)) {
    const to = new Date(Date.parse(from) + 48 * HOUR).toISOString()
    const got = schedules(config).map((s): [string, ReturnType<typeof occurrences>] => [
      s.id,
      occurrences(s.pattern, config.TIME_ZONE, from, to),
    ])
    assert.deepEqual(
      got.map(([id, o]) => [id, o.embedded]),
      want,
      `embedded (croner), the two days from ${from}`,
    )
    assert.deepEqual(
      got.map(([id, o]) => [id, o.worker]),
      want,
      `worker (BullMQ), the two days from ${from}`,
    )
  }
})

test('a time in the hour the clocks skip or repeat (01:30 in London) still runs once that day on each tier', () => {
  const skipped = occurrences('30 1 * * *', 'Europe/London', '2026-03-28T12:00:00Z', '2026-03-30T00:00:00Z')
  // 01:30 does not exist on 29 March: croner runs at 02:00 BST, BullMQ at 02:30 BST; once each.
  assert.deepEqual(skipped.embedded, ['2026-03-29T01:00:00.000Z'])
  assert.deepEqual(skipped.worker, ['2026-03-29T01:30:00.000Z'])
  const repeated = occurrences('30 1 * * *', 'Europe/London', '2026-10-24T12:00:00Z', '2026-10-26T00:00:00Z')
  // 01:30 happens twice on 25 October: both run at the first (BST) only.
  assert.deepEqual(repeated.embedded, ['2026-10-25T00:30:00.000Z'])
  assert.deepEqual(repeated.worker, ['2026-10-25T00:30:00.000Z'])
})

test('a digest time listed twice is one schedule (two with one id left a timer nothing could stop)', () => {
  const ids = schedules(testConfig({ SLACK_DIGEST_TIMES: '10:00 14:00 10:00' })).map((s) => s.id)
  assert.deepEqual(
    ids.filter((id) => id.startsWith('occupancy-digest')),
    ['occupancy-digest-1000', 'occupancy-digest-1400'],
  )
})

test('a bad REMINDER_TIME, AUTO_CLOSE_TIME or PURGE_TIME stops start-up with a clear message; "off" turns the job off', () => {
  for (const [name, value] of [
    ['REMINDER_TIME', '25:00'],
    ['AUTO_CLOSE_TIME', '5pm'],
    ['PURGE_TIME', '7:30'],
    ['PURGE_TIME', 'OFF'],
    ['SLACK_DIGEST_TIMES', '10:00 noon'],
  ] as const) {
    // A job's time may also be "off", and the message says so; a digest's list of times may not.
    const orOff = name === 'SLACK_DIGEST_TIMES' ? '' : ', or off to turn the job off'
    assert.throws(
      () => testConfig({ [name]: value }),
      new RegExp(`${name}(\\.\\d+)?: must be a 24-hour local time such as 17:30${orOff}$`, 'm'),
      `${name}=${value}`,
    )
  }
  const off = schedules(testConfig({ REMINDER_TIME: 'off', AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' }))
  assert.deepEqual(off, [], 'nothing is scheduled (the worker removes what Redis had: schedules.test.ts)')
})

test('on the day the clocks go back, "today" is the local day: who signed in at 00:30 BST is reminded at 17:30 GMT, yesterday’s visit is not', async (t) => {
  const ctx = await buildTestApp(t, {
    env: { AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' },
    embeddedJobs: true,
  })
  const { db } = ctx.app.ctx
  const site = { timeZone: ctx.config.TIME_ZONE }
  const context = { ip: '-', userAgent: 'test' }
  const early = await makePerson(db, { firstName: 'Early', lastName: 'Bird', email: 'early@example.org' })
  const late = await makePerson(db, { firstName: 'Late', lastName: 'Owl', email: 'late@example.org' })
  // 23:30 BST on Saturday 24 October (22:30 UTC) and 00:30 BST on Sunday 25 (23:30 UTC on the 24th).
  await signIn(db, { personId: late, now: Date.parse('2026-10-24T22:30:00Z'), context }, site)
  await signIn(db, { personId: early, now: Date.parse('2026-10-24T23:30:00Z'), context }, site)
  ctx.clock.set('2026-10-25T17:30:00Z') // 17:30 GMT
  await ctx.app.embeddedJobs!.fireNow('send-reminders')
  const reminded = ctx.outbox
    .filter((l) => / \(reminder\)/.test(l))
    .map((l) => /message to (\S+)/.exec(l)?.[1])
  assert.deepEqual(
    reminded,
    ['early@example.org'],
    'in since 00:30 local today: reminded; in since yesterday: not',
  )
})
