import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { buildTestApp, loginAs } from '../testing/build-test-app.js'
import { testDialect } from '../testing/test-database.js'

/** SQLite's locking; PostgreSQL's row locks and lock_timeout are tested by the PostgreSQL run. */
const sqliteOnly = { skip: testDialect === 'postgres' ? 'SQLite only' : false }

/**
 * Another process (a purge, a backup, a CLI) that takes SQLite's write lock and holds it until told
 * to commit (a line on its stdin) or until it is killed.
 */
async function lockHolder(t: TestContext, path: string): Promise<{ release(): Promise<void> }> {
  const script = `
    const SQLite = require('better-sqlite3')
    const db = new SQLite(process.argv[1])
    db.exec('begin immediate')
    db.prepare("insert into audit_event (at, person_id, action, ip, user_agent, detail) values (0, null, 'other.process', '', '', '{}')").run()
    process.stdout.write('locked\\n')
    process.stdin.once('data', () => { db.exec('commit'); process.stdout.write('released\\n'); process.exit(0) })
  `
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, ['-e', script, path], {
    cwd: process.cwd(),
  })
  t.after(() => child.kill())
  const lines: string[] = []
  const waitFor = async (line: string) => {
    while (!lines.includes(line)) {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
      lines.push(...chunk.toString().split('\n').filter(Boolean))
    }
  }
  await waitFor('locked')
  return {
    async release() {
      child.stdin.write('commit\n')
      await waitFor('released')
    },
  }
}

async function fileApp(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'br-lock-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'register.db')
  const ctx = await buildTestApp(t, { env: { DATABASE_PATH: path } })
  const alice = await loginAs(ctx, 'alice@example.org')
  await alice.get('/')
  return { ctx, alice, path }
}

test(
  'while another process holds the write lock, reads are served and a waiting tap succeeds once it is released',
  sqliteOnly,
  async (t) => {
    const { ctx, alice, path } = await fileApp(t)
    const other = await lockHolder(t, path)

    let tapSettled = false
    const tap = alice.post('/sign-in', { day: '2026-11-23' }).finally(() => {
      tapSettled = true
    })
    // The tap is waiting for the lock; the event loop is not.
    const health = await ctx.app.inject({ method: 'GET', url: '/healthz' })
    assert.equal(health.statusCode, 200)
    const history = await alice.get('/history')
    assert.equal(history.statusCode, 200)
    const me = await alice.get('/')
    assert.equal(me.statusCode, 200)
    assert.equal(tapSettled, false, 'the reads were answered while the tap still waited for the lock')

    await other.release()
    const done = await tap
    assert.equal(done.statusCode, 303, 'the tap waited (begin immediate, retried) and then went through')
    const visits = await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()
    assert.equal(visits.length, 1)
  },
)

test(
  'a write that waits longer than its bound gets a clear 503 with Retry-After, and nothing is half done',
  sqliteOnly,
  async (t) => {
    const { ctx, alice, path } = await fileApp(t)
    const other = await lockHolder(t, path)
    const refused = await alice.post('/sign-in', { day: '2026-11-23' })
    assert.equal(refused.statusCode, 503)
    assert.equal(refused.headers['retry-after'], '5')
    assert.match(refused.body, /busy for a moment\. Nothing was changed/)
    await other.release()
    assert.equal((await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()).length, 0)
    await alice.get('/')
    assert.equal((await alice.post('/sign-in', { day: '2026-11-23' })).statusCode, 303)
  },
)

test(
  'a transaction that reads then writes waits for the lock at its start (begin immediate) and commits',
  sqliteOnly,
  async (t) => {
    const { ctx, path } = await fileApp(t)
    const { db } = ctx.app.ctx
    const other = await lockHolder(t, path)
    let committed = false
    const transaction = db
      .transaction()
      .execute(async (trx) => {
        // A deferred `begin` would take a snapshot here and then fail to upgrade to a write
        // (SQLITE_BUSY_SNAPSHOT, which no retry can cure) once the other process commits.
        const people = await trx.selectFrom('person').select('id').execute()
        await trx
          .updateTable('person')
          .set({ updated_at: people.length })
          .where('id', '=', people[0]!.id)
          .execute()
      })
      .then(() => {
        committed = true
      })
    const meanwhile = await db.selectFrom('person').select('first_name').execute()
    assert.deepEqual(
      meanwhile.map((p) => p.first_name),
      ['Alice'],
    )
    assert.equal(committed, false, 'read outside while the transaction waited')
    await other.release()
    await transaction
    assert.equal(committed, true)
    const audit = await db
      .selectFrom('audit_event')
      .select('action')
      .where('action', '=', 'other.process')
      .execute()
    assert.equal(audit.length, 1, "the other process's write is there too")
  },
)
