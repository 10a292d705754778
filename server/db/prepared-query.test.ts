import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { type KyselyPlugin, sql } from 'kysely'
import { testDb, testDialect } from '../testing/test-database.js'
import { preparedQuery } from './prepared-query.js'
import { writeHealthOf } from './write-health.js'

const person = (first: string, last: string) => ({
  first_name: first,
  last_name: last,
  created_at: 0,
  updated_at: 0,
  deactivated_at: null,
})

test('a prepared query runs with each call’s values, the same as building it each time', async (t) => {
  const db = await testDb(t)
  await db
    .insertInto('person')
    .values([person('Ann', 'Lee'), person('Ben', 'Lee'), person('Ann', 'Roe')])
    .execute()
  const byName = preparedQuery((db, v: { first: string; last: string }) =>
    db.selectFrom('person').select('id').where('first_name', '=', v.first).where('last_name', '=', v.last),
  )
  for (const [first, last] of [
    ['Ann', 'Lee'],
    ['Ben', 'Lee'],
    ['Ann', 'Roe'],
    ['Ben', 'Roe'],
  ] as const) {
    const built = await db
      .selectFrom('person')
      .select('id')
      .where('first_name', '=', first)
      .where('last_name', '=', last)
      .execute()
    assert.deepEqual(await byName(db, { first, last }), built, `${first} ${last}`)
  }
})

test('a value used twice, literals kept, and inserts and updates with returning', async (t) => {
  const db = await testDb(t)
  const insert = preparedQuery((db, v: { name: string; at: number }) =>
    db
      .insertInto('person')
      .values({
        first_name: v.name,
        last_name: v.name,
        created_at: v.at,
        updated_at: v.at,
        deactivated_at: null,
      })
      .returningAll(),
  )
  const [cat] = await insert(db, { name: 'Cat', at: 5 })
  const [dan] = await insert(db, { name: 'Dan', at: 7 })
  assert.deepEqual(
    [cat, dan].map((p) => [p?.first_name, p?.last_name, p?.created_at, p?.updated_at, p?.deactivated_at]),
    [
      ['Cat', 'Cat', 5, 5, null],
      ['Dan', 'Dan', 7, 7, null],
    ],
  )
  const rename = preparedQuery((db, v: { id: number; name: string }) =>
    db
      .updateTable('person')
      .set({ first_name: v.name })
      .where('id', '=', v.id)
      .returning(['id', 'first_name']),
  )
  assert.deepEqual(await rename(db, { id: dan!.id, name: 'Daniel' }), [{ id: dan!.id, first_name: 'Daniel' }])
  assert.deepEqual(await rename(db, { id: 999, name: 'Nobody' }), [])
  const names = await db.selectFrom('person').select('first_name').orderBy('id').execute()
  assert.deepEqual(
    names.map((r) => r.first_name),
    ['Cat', 'Daniel'],
  )
})

test('a prepared query runs inside the caller’s transaction', async (t) => {
  const db = await testDb(t)
  const insert = preparedQuery((db, v: { name: string }) =>
    db
      .insertInto('person')
      .values({ first_name: v.name, last_name: 'X', created_at: 0, updated_at: 0, deactivated_at: null }),
  )
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await insert(trx, { name: 'Eve' })
      throw new Error('roll back')
    }),
    /roll back/,
  )
  await insert(db, { name: 'Fay' })
  const names = await db.selectFrom('person').select('first_name').execute()
  assert.deepEqual(
    names.map((r) => r.first_name),
    ['Fay'],
  )
})

/** A database with Ann Lee and Ben Lee in it. */
async function withAnnAndBenLee(t: TestContext) {
  const db = await testDb(t)
  await db
    .insertInto('person')
    .values([person('Ann', 'Lee'), person('Ben', 'Lee')])
    .execute()
  return db
}

/** How many microtask turns pass before `promise` settles (at most 100). */
async function turnsUntilSettled(promise: Promise<unknown>): Promise<number> {
  let settled = false
  void promise.then(
    () => {
      settled = true
    },
    () => {
      settled = true
    },
  )
  let turns = 0
  while (!settled && turns < 100) {
    await null
    turns++
  }
  return turns
}

test('inside a transaction on SQLite a prepared query runs on the connection, not through Kysely’s executor; with a plugin, through it', {
  skip:
    testDialect !== 'sqlite' && 'SQLite only: PostgreSQL has a pool of connections and a round trip anyway',
}, async (t) => {
  const db = await withAnnAndBenLee(t)
  const lees = preparedQuery((db, v: { last: string }) =>
    db.selectFrom('person').select(['id', 'first_name']).where('last_name', '=', v.last).orderBy('id'),
  )
  const expected = await db.selectFrom('person').select(['id', 'first_name']).orderBy('id').execute()
  const counted: string[] = []
  const seeing: KyselyPlugin = {
    transformQuery: (args) => args.node,
    transformResult: async (args) => {
      counted.push(`${args.result.rows.length} rows`)
      return args.result
    },
  }
  await db.transaction().execute(async (trx) => {
    // The executor's way takes several turns (its awaits); straight on the connection, one.
    const direct = lees(trx, { last: 'Lee' })
    assert.ok((await turnsUntilSettled(direct)) <= 1, 'answered at once')
    assert.deepEqual(await direct, expected)
    const seen = lees(trx.withPlugin(seeing), { last: 'Lee' })
    assert.ok((await turnsUntilSettled(seen)) > 1, 'through the executor')
    assert.deepEqual(await seen, expected)
  })
  assert.deepEqual(counted, ['2 rows'], 'the plugin saw the query run with it, and only that one')
})

test('a disk-full failure of a prepared write inside a transaction reaches write health (/healthz), and the next write clears it', {
  skip: testDialect !== 'sqlite' && 'SQLite only (max_page_count)',
}, async (t) => {
  const db = await testDb(t)
  const insert = preparedQuery((db, v: { name: string }) =>
    db
      .insertInto('person')
      .values({ first_name: v.name, last_name: 'X', created_at: 0, updated_at: 0, deactivated_at: null }),
  )
  const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(db)
  await sql.raw(`pragma max_page_count = ${rows[0]!.page_count}`).execute(db)
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await insert(trx, { name: 'x'.repeat(100_000) })
    }),
    { code: 'SQLITE_FULL' },
  )
  assert.equal((writeHealthOf(db).failure as { code?: string } | undefined)?.code, 'SQLITE_FULL')
  await sql.raw('pragma max_page_count = 1073741823').execute(db)
  await db.transaction().execute(async (trx) => {
    await insert(trx, { name: 'Gus' })
  })
  assert.equal(writeHealthOf(db).failure, undefined)
})

test('outside a transaction on SQLite a prepared read runs on the connection while no transaction holds it; a write still goes through the executor', {
  skip:
    testDialect !== 'sqlite' && 'SQLite only: PostgreSQL has a pool of connections and a round trip anyway',
}, async (t) => {
  const db = await withAnnAndBenLee(t)
  const lees = preparedQuery((db, v: { last: string }) =>
    db.selectFrom('person').select('first_name').where('last_name', '=', v.last).orderBy('id'),
  )
  const read = lees(db, { last: 'Lee' })
  assert.ok((await turnsUntilSettled(read)) <= 1, 'answered at once')
  assert.deepEqual(await read, [{ first_name: 'Ann' }, { first_name: 'Ben' }])
  // A write outside a transaction keeps the executor's wait for another process's lock (sqlite-busy.ts).
  const rename = preparedQuery((db, v: { name: string }) =>
    db.updateTable('person').set({ first_name: v.name }).where('first_name', '=', 'Ben'),
  )
  const write = rename(db, { name: 'Benedict' })
  assert.ok((await turnsUntilSettled(write)) > 1, 'through the executor')
  await write
  assert.deepEqual(await lees(db, { last: 'Lee' }), [{ first_name: 'Ann' }, { first_name: 'Benedict' }])
})

test('a prepared read outside a transaction never sees another unit’s transaction that is still open: it waits for it, and a rollback leaves nothing behind', async (t) => {
  const db = await testDb(t)
  await db.insertInto('person').values(person('Ann', 'Lee')).execute()
  const lees = preparedQuery((db, v: { last: string }) =>
    db.selectFrom('person').select('first_name').where('last_name', '=', v.last).orderBy('id'),
  )
  let inserted!: () => void
  const ghostInserted = new Promise<void>((resolve) => {
    inserted = resolve
  })
  let release!: () => void
  const gate = new Promise<void>((resolve) => {
    release = resolve
  })
  const unit = db.transaction().execute(async (trx) => {
    await trx.insertInto('person').values(person('Ghost', 'Lee')).execute()
    inserted()
    await gate
    throw new Error('roll back')
  })
  await ghostInserted
  // Asked while the other transaction is open (an await between two of its statements).
  const read = lees(db, { last: 'Lee' })
  release()
  await assert.rejects(unit, /roll back/)
  assert.deepEqual(await read, [{ first_name: 'Ann' }], 'the rolled-back row was never seen')
})
