import assert from 'node:assert/strict'
import { test } from 'node:test'
import { testDb } from '../testing/test-database.js'
import { connect, poolConfig } from './connect.js'
import { migrateToLatest } from './migrate.js'
import { SQLITE_BUSY_TIMEOUT_MS } from './sqlite-busy.js'

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
  assert.equal(sqlite.pragma('busy_timeout', { simple: true }), SQLITE_BUSY_TIMEOUT_MS)
  assert.equal(sqlite.pragma('synchronous', { simple: true }), 1)
})

test('sslmode in a postgres URL (or PGSSLMODE) chooses TLS the way Heroku Postgres needs', () => {
  const ssl = (url: string, env: NodeJS.ProcessEnv = {}) => poolConfig(url, env).ssl
  assert.deepEqual(ssl('postgres://u:p@db.example.org:5432/reg?sslmode=require'), {
    rejectUnauthorized: false,
  })
  assert.deepEqual(ssl('postgres://u:p@h/reg?sslmode=no-verify'), { rejectUnauthorized: false })
  assert.deepEqual(ssl('postgres://u:p@h/reg?sslmode=verify-full'), { rejectUnauthorized: true })
  assert.equal(ssl('postgres://u:p@h/reg?sslmode=disable'), false)
  assert.equal(ssl('postgres://u:p@h/reg'), false)
  assert.deepEqual(ssl('postgres://u:p@h/reg', { PGSSLMODE: 'no-verify' }), { rejectUnauthorized: false })
  // pg would read sslmode=require from the URL as verify-full: ours is taken out of it.
  const { connectionString } = poolConfig('postgres://u:p@h/reg?sslmode=require&application_name=x', {})
  assert.equal(connectionString, 'postgres://u:p@h/reg?application_name=x')
})

test('int8 values (instants, counts) come back as numbers', async (t) => {
  const db = await testDb(t)
  const at = 1_796_160_000_000
  await db
    .insertInto('person')
    .values({ first_name: 'A', last_name: 'B', created_at: at, updated_at: at, deactivated_at: null })
    .execute()
  const row = await db
    .selectFrom('person')
    .select((eb) => [eb.fn.countAll().as('n'), eb.fn.max('created_at').as('latest')])
    .executeTakeFirstOrThrow()
  assert.equal(row.n, 1)
  assert.equal(row.latest, at)
})
