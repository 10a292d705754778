import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect } from '../server/db/connect.js'
import { migrateToLatest } from '../server/db/migrate.js'
import { deriveKeys } from '../server/identity/secrets.js'
import { acquireLease, claimJobRun } from '../server/jobs/job-lease.repository.js'
import { systemClock } from '../server/lib/site-time.js'
import { Messenger } from '../server/messaging/messenger.js'
import { testConfig } from '../server/testing/build-test-app.js'
import { SCHEDULER_LEASE, startEmbeddedJobs } from './embedded.js'

async function sharedDatabase(t: import('node:test').TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'register-lease-'))
  const open = () => connect(join(dir, 'register.db')).db
  const a = open()
  const b = open()
  t.after(async () => {
    await a.destroy()
    await b.destroy()
    rmSync(dir, { recursive: true, force: true })
  })
  await migrateToLatest(a)
  return { a, b }
}

test('the lease: one holder at a time; the holder renews; an expired lease is taken over', async (t) => {
  const { a, b } = await sharedDatabase(t)
  const lease = (db: typeof a, holder: string, now: number) =>
    acquireLease(db, { name: 'x', holder, now, ttlMs: 30_000 })
  const [first, second] = await Promise.all([lease(a, 'A', 0), lease(b, 'B', 0)])
  assert.equal(Number(first) + Number(second), 1, 'exactly one of two concurrent takers wins')
  const [winner, loser, winnerDb, loserDb] = first ? ['A', 'B', a, b] : ['B', 'A', b, a]
  assert.equal(await lease(winnerDb, winner, 20_000), true, 'the holder renews')
  assert.equal(await lease(loserDb, loser, 40_000), false, 'renewed at 20 s, it lasts until 50 s')
  assert.equal(await lease(loserDb, loser, 50_001), true, 'expired: taken over')
  assert.equal(await lease(winnerDb, winner, 50_002), false, 'the old holder has lost it')

  const run = (db: typeof a, holder: string) =>
    claimJobRun(db, { scheduleId: 'send-reminders', dueAt: 1_000, holder, now: 0 })
  const claims = await Promise.all([run(a, 'A'), run(b, 'B')])
  assert.deepEqual(claims.filter(Boolean).length, 1, 'an occurrence is claimed once')
})

test('two embedded schedulers on one database: one runs the jobs, the other says so and runs none', async (t) => {
  const { a, b } = await sharedDatabase(t)
  const config = testConfig({ REMINDER_TIME: 'off', AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' })
  const logs: string[] = []
  const log = {
    info: (msg: unknown) => logs.push(String(msg)),
    warn: (msg: unknown, more?: unknown) => logs.push(String(typeof msg === 'string' ? msg : more)),
    error: () => {},
  }
  const context = (db: typeof a) => ({
    db,
    config,
    clock: systemClock,
    keys: deriveKeys(config.SESSION_SECRET),
    messenger: new Messenger([], { siteName: 'x', publicUrl: 'http://x' }),
    log,
  })
  const one = startEmbeddedJobs(context(a))
  const two = startEmbeddedJobs(context(b))
  t.after(async () => {
    await one.stop()
    await two.stop()
  })
  const holds = await Promise.all([one.holdsLease(), two.holdsLease()])
  assert.equal(holds.filter(Boolean).length, 1, 'exactly one process runs the scheduled jobs')
  assert.ok(
    logs.some((l) => /Another process \(.+\) already runs the scheduled jobs on this database/.test(l)),
    'the other says which process runs them',
  )
  const row = await a
    .selectFrom('job_lease')
    .selectAll()
    .where('name', '=', SCHEDULER_LEASE)
    .executeTakeFirst()
  assert.ok(row)
  // A clean stop hands the lease back at once.
  await (holds[0] ? one : two).stop()
  assert.equal(
    await a.selectFrom('job_lease').selectAll().where('name', '=', SCHEDULER_LEASE).executeTakeFirst(),
    undefined,
  )
})
