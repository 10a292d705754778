import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import SQLite from 'better-sqlite3'
import { eventually } from '../testing/eventually.js'
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js'
import { connect } from './connect.js'
import { migrateToLatest } from './migrate.js'
import { unitOfWork } from './unit-of-work.js'

function tempFile(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'br-ckpt-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'register.db')
}

/** Writes about `pages` WAL pages (4 KiB each) in one commit. */
const writePages = (db: ReturnType<typeof connect>['db'], pages: number) =>
  unitOfWork(db, async (trx) => {
    for (let i = 0; i < pages; i++)
      await trx
        .insertInto('outbox')
        .values({ topic: 'presence', payload: 'x'.repeat(3_500), created_at: i, relayed_at: null })
        .execute()
  })

test('the WAL is checkpointed by a thread of its own, not by the commit that crosses 1,000 pages', async (t) => {
  const { db, sqlite, checkpointer } = connect(tempFile(t))
  t.after(() => db.destroy())
  await migrateToLatest(db)
  assert.ok(checkpointer, 'a file database has a checkpointer')
  // The web process's connection checkpoints only if the thread falls far behind.
  assert.equal(sqlite.pragma('wal_autocheckpoint', { simple: true }), FALLBACK_AUTOCHECKPOINT_PAGES)
  await writePages(db, 1_500)
  assert.ok(checkpointer.running, 'the thread runs once the register is written to')
  await eventually(
    () => (checkpointer.lastCheckpoint?.checkpointed ?? 0) >= 1_500,
    () => `the thread to checkpoint the 1,500 pages (last: ${JSON.stringify(checkpointer.lastCheckpoint)})`,
  )
  await db.destroy()
  assert.equal(checkpointer.running, false, 'closing the database stops the thread')
})

test('the thread starts once writes keep coming, stops after a quiet spell, and starts again', async (t) => {
  const path = tempFile(t)
  const { db } = connect(path)
  await migrateToLatest(db)
  await db.destroy()
  const file = new SQLite(path)
  t.after(() => file.close())
  const checkpointer = new Checkpointer(path, { idleStopMs: 200, startAfterWrites: 3 })
  t.after(() => checkpointer.stop())
  checkpointer.wrote()
  checkpointer.wrote()
  assert.equal(checkpointer.running, false, 'a few writes need no thread')
  checkpointer.wrote()
  assert.equal(checkpointer.running, true, 'writes that keep coming start it')
  await eventually(() => !checkpointer.running, 'the thread to stop when nothing is written')
  file.prepare("insert into outbox (topic, payload, created_at) values ('presence', '{}', 1)").run()
  for (let i = 0; i < 3; i++) checkpointer.wrote()
  assert.equal(checkpointer.running, true, 'writes start it again')
  await eventually(() => checkpointer.lastCheckpoint !== undefined, 'a checkpoint by the new thread')
})

test('an in-memory database has no WAL and no thread', () => {
  const { db, checkpointer } = connect(':memory:')
  assert.equal(checkpointer, undefined)
  void db.destroy()
})
