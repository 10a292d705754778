import assert from 'node:assert/strict'
import { test } from 'node:test'
import { connect } from './connect.js'
import { migrateToLatest } from './migrate.js'

test('cached statements give fresh results for streamed and repeated queries', async (t) => {
  const { db } = connect(':memory:')
  t.after(() => db.destroy())
  await migrateToLatest(db)
  await db
    .insertInto('person')
    .values(
      Array.from({ length: 50 }, (_, i) => ({
        first_name: `P${i}`,
        last_name: 'X',
        created_at: i,
        updated_at: i,
        deactivated_at: null,
      })),
    )
    .execute()
  const query = () => db.selectFrom('person').select('id').orderBy('id')
  let streamed = 0
  for await (const _row of query().stream(5)) streamed++
  assert.equal(streamed, 50)
  assert.equal((await query().execute()).length, 50, 'the same statement again, from the cache')
  await db.deleteFrom('person').where('id', '>', 40).execute()
  assert.equal((await query().execute()).length, 40, 'a cached statement sees new data')
})

test('pragmas for a busy web process are applied', async (t) => {
  const { db, sqlite } = connect(':memory:')
  t.after(() => db.destroy())
  assert.equal(sqlite.pragma('foreign_keys', { simple: true }), 1)
  assert.equal(sqlite.pragma('busy_timeout', { simple: true }), 5000)
  assert.equal(sqlite.pragma('synchronous', { simple: true }), 1)
})
