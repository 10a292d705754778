import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect, type Db } from '../server/db/connect.js'
import { migrateToLatest, migrator } from '../server/db/migrate.js'
import { deriveKeys } from '../server/identity/secrets.js'
import {
  acquireLease,
  claimJobRun,
  findJobRun,
  finishJobRun,
  reclaimJobRun,
} from '../server/jobs/job-lease.repository.js'
import { systemClock } from '../server/lib/site-time.js'
import { Messenger } from '../server/messaging/messenger.js'
import { testConfig } from '../server/testing/build-test-app.js'
import { testDb } from '../server/testing/test-database.js'
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

test('an unfinished run is taken over only by the lease holder, only from a process that no longer holds the lease, by one process', async (t) => {
  const db = await testDb(t)
  const now = Date.now()
  const occurrence = { scheduleId: 'auto-close', dueAt: 1_000 }
  const lease = (holder: string, at: number) =>
    acquireLease(db, { name: SCHEDULER_LEASE, holder, now: at, ttlMs: 30_000 })
  const reclaim = (holder: string, at = now) =>
    reclaimJobRun(db, { ...occurrence, holder, lease: SCHEDULER_LEASE, now: at })
  const claimedBy = async () => (await findJobRun(db, occurrence.scheduleId, occurrence.dueAt))?.holder

  assert.equal(await lease('A', now), true)
  assert.equal(await claimJobRun(db, { ...occurrence, holder: 'A', now }), true)
  assert.equal(await reclaim('B'), false, 'not while A, running it, holds the lease')
  assert.equal(await reclaim('A'), false, 'nor by A itself (it is running it)')

  // A dies mid-run: its lease runs out and B takes the lease.
  const later = now + 31_000
  assert.equal(await reclaim('B', later), false, 'not by a process that does not hold the lease')
  assert.equal(await lease('B', later), true)
  assert.equal(await reclaim('B', later), true, 'the new holder takes it over')
  assert.equal(await claimedBy(), 'B')
  assert.equal(await reclaim('B', later), false, 'once')

  await finishJobRun(db, { ...occurrence, holder: 'A', now: later }) // A, had it lived, finishing late
  assert.equal(
    (await findJobRun(db, occurrence.scheduleId, occurrence.dueAt))?.finished_at,
    null,
    'A no longer records it',
  )
  await finishJobRun(db, { ...occurrence, holder: 'B', now: later })
  assert.equal((await findJobRun(db, occurrence.scheduleId, occurrence.dueAt))?.finished_at, later)
  const latest = now + 62_000
  assert.equal(await lease('C', latest), true)
  assert.equal(await reclaim('C', latest), false, 'a finished run is never taken over')
})

test('several tries at once to take over one unfinished run: exactly one succeeds, the lease holder’s', async (t) => {
  const db = await testDb(t)
  const now = Date.now()
  const occurrence = { scheduleId: 'purge', dueAt: 1_000 }
  await claimJobRun(db, { ...occurrence, holder: 'dead', now })
  // B holds the lease; C believes it does (its lease lapsed a moment ago): the database decides.
  await db
    .insertInto('job_lease')
    .values({ name: SCHEDULER_LEASE, holder: 'B', expires_at: now + 30_000 })
    .execute()
  const takes = await Promise.all(
    ['B', 'C', 'B', 'C'].map((holder) =>
      reclaimJobRun(db, { ...occurrence, holder, lease: SCHEDULER_LEASE, now }),
    ),
  )
  assert.equal(takes.filter(Boolean).length, 1, 'taken over once')
  assert.equal(takes[1] || takes[3], false, 'never by C')
  assert.equal((await findJobRun(db, occurrence.scheduleId, occurrence.dueAt))?.holder, 'B')
})

test('migration 202612031700: claims made before finished_at existed count as finished (not all run again)', async (t) => {
  const db: Db = await testDb(t, { migrated: false })
  assert.equal((await migrator(db).migrateTo('202612031600_index_refused_saved_sign_ins')).error, undefined)
  await db
    .insertInto('job_run')
    .values([
      { schedule_id: 'auto-close', due_at: 1_000, holder: 'old', started_at: 1_005 },
      { schedule_id: 'purge', due_at: 2_000, holder: 'old', started_at: 2_010 },
    ])
    .execute()
  await migrateToLatest(db)
  const rows = await db
    .selectFrom('job_run')
    .select(['schedule_id', 'started_at', 'finished_at'])
    .orderBy('due_at')
    .execute()
  assert.deepEqual(
    rows.map((r) => [r.schedule_id, Number(r.started_at), Number(r.finished_at)]),
    [
      ['auto-close', 1_005, 1_005],
      ['purge', 2_010, 2_010],
    ],
  )
})
