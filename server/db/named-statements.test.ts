import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import { freshPostgresDatabase, testDialect } from '../testing/test-database.js'
import { connectPostgres } from './connect.js'
import { preparedQuery } from './prepared-query.js'

const needsPostgres = { skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)' }

const person = { first_name: 'Ann', last_name: 'Lee', created_at: 0, updated_at: 0, deactivated_at: null }

/** One connection (so the statements it prepared can be read back on it), with Ann Lee in it. */
async function oneConnection(t: { after(fn: () => Promise<void>): void }, preparedStatements?: boolean) {
  const database = await freshPostgresDatabase()
  const { db } = connectPostgres(database.url, { poolSize: 1, preparedStatements })
  t.after(async () => {
    await db.destroy()
    await database.drop()
  })
  await db.insertInto('person').values(person).execute()
  const prepared = async () =>
    (await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(db)).rows.map(
      (r) => r.statement,
    )
  return { db, prepared }
}

test(
  'on PostgreSQL a query built once runs as a named statement; other queries do not',
  needsPostgres,
  async (t) => {
    const { db, prepared } = await oneConnection(t)
    const byLastName = preparedQuery((db, v: { last: string }) =>
      db.selectFrom('person').select('first_name').where('last_name', '=', v.last),
    )
    assert.deepEqual(await byLastName(db, { last: 'Lee' }), [{ first_name: 'Ann' }])
    assert.deepEqual(await byLastName(db, { last: 'Roe' }), [])
    const built = await db.selectFrom('person').select('last_name').where('first_name', '=', 'Ann').execute()
    assert.deepEqual(built, [{ last_name: 'Lee' }])
    const statements = await prepared()
    assert.equal(
      statements.filter((s) => s.includes('"first_name" from "person"')).length,
      1,
      statements.join('\n'),
    )
    assert.equal(
      statements.filter((s) => s.includes('"last_name" from "person"')).length,
      0,
      statements.join('\n'),
    )
  },
)

test(
  'a named statement whose result a migration changed is prepared again under a new name',
  needsPostgres,
  async (t) => {
    const { db } = await oneConnection(t)
    const everything = preparedQuery((db, v: { last: string }) =>
      db.selectFrom('person').selectAll().where('last_name', '=', v.last),
    )
    assert.equal((await everything(db, { last: 'Lee' })).length, 1)
    await sql`alter table person add column nickname text`.execute(db)
    // PostgreSQL refuses the old plan once ("cached plan must not change result type")…
    await assert.rejects(everything(db, { last: 'Lee' }), { code: '0A000' })
    // …and from then on the statement runs under a new name, with the new column.
    const [row] = await everything(db, { last: 'Lee' })
    assert.equal((row as Record<string, unknown>).nickname, null)
    assert.deepEqual(await everything(db, { last: 'Lee' }), [row])
  },
)

test(
  'with DATABASE_PREPARED_STATEMENTS=false (a transaction-pooling proxy in between), nothing is named',
  needsPostgres,
  async (t) => {
    const { db, prepared } = await oneConnection(t, false)
    const byLastName = preparedQuery((db, v: { last: string }) =>
      db.selectFrom('person').select(['first_name', 'last_name']).where('last_name', '=', v.last),
    )
    assert.deepEqual(await byLastName(db, { last: 'Lee' }), [{ first_name: 'Ann', last_name: 'Lee' }])
    assert.deepEqual(await prepared(), [])
  },
)

test(
  'a named statement the server connection never saw (a pooling proxy in between) says which setting to change',
  needsPostgres,
  async (t) => {
    const { db } = await oneConnection(t)
    const byLastName = preparedQuery((db, v: { last: string }) =>
      db.selectFrom('person').select('id').where('last_name', '=', v.last),
    )
    assert.equal((await byLastName(db, { last: 'Lee' })).length, 1)
    // What a proxy handing this client another server connection looks like: the statement is gone.
    await sql`deallocate all`.execute(db)
    await assert.rejects(byLastName(db, { last: 'Lee' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, '26000')
      assert.match(error.message, /Set DATABASE_PREPARED_STATEMENTS=false/)
      return true
    })
  },
)
