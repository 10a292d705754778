import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import type { Db } from '../../db/connect.js'
import { buildTestApp, loginAs } from '../../testing/build-test-app.js'
import { testDialect } from '../../testing/test-database.js'

/**
 * A real refusal to write, on the app's own connection: SQLite's `query_only` (as a full disk or a
 * read-only file gives), PostgreSQL's read-only transactions (as a standby after a failover gives;
 * the app's pool has one connection, so the setting holds for every query it makes).
 */
const refuseWrites = (db: Db, refuse: boolean) =>
  testDialect === 'postgres'
    ? sql`set default_transaction_read_only = ${sql.raw(refuse ? 'on' : 'off')}`.execute(db)
    : sql`pragma query_only = ${sql.raw(refuse ? '1' : '0')}`.execute(db)

test('/healthz is 503 after a write failed, until a write succeeds again', async (t) => {
  const ctx = await buildTestApp(t, { env: { DATABASE_POOL_SIZE: '1' } })
  const alice = await loginAs(ctx, 'alice@example.org')
  await alice.get('/')
  assert.equal((await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)

  await refuseWrites(ctx.app.ctx.db, true)
  const tap = await alice.post('/sign-in', { day: '2026-11-23' })
  assert.equal(tap.statusCode, 500)
  assert.match(tap.body, /Nothing was changed/)
  const unhealthy = await ctx.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(unhealthy.statusCode, 503)
  assert.equal(unhealthy.json().database, 'not writing')
  assert.equal(unhealthy.json().error, 'The database is not taking writes (disk full or read-only?).')
  assert.equal((await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 503, 'still')

  await refuseWrites(ctx.app.ctx.db, false)
  assert.equal(
    (await ctx.app.inject({ method: 'GET', url: '/healthz' })).statusCode,
    200,
    'writes work again',
  )
  await alice.get('/')
  assert.equal((await alice.post('/sign-in', { day: '2026-11-23' })).statusCode, 303)
})

test('/healthz is 503 when the database does not answer at all', async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.app.ctx.db.destroy()
  const down = await ctx.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(down.statusCode, 503)
  assert.equal(down.json().error, 'The database is not answering.')
})
