import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import SQLite from 'better-sqlite3'
import { sql } from 'kysely'
import { UserError } from '../lib/errors.js'
import { latch } from '../testing/races.js'
import { freshPostgresDatabase, testDb, testDialect } from '../testing/test-database.js'
import { connect, connectPostgres } from './connect.js'
import { migrateToLatest } from './migrate.js'
import { MAX_SHARED_COMMIT, unitOfWork } from './unit-of-work.js'

async function fileDb(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'br-uow-'))
  const path = join(dir, 'register.db')
  const { db } = connect(path)
  await migrateToLatest(db)
  // A second connection, as another process would see the file.
  const other = new SQLite(path, { readonly: true })
  t.after(async () => {
    other.close()
    await db.destroy()
    rmSync(dir, { recursive: true, force: true })
  })
  return { db, other }
}

const person = (name: string) => ({
  first_name: name,
  last_name: 'X',
  created_at: 0,
  updated_at: 0,
  deactivated_at: null,
})
const names = (other: SQLite.Database) =>
  (other.prepare('select first_name from person order by id').all() as { first_name: string }[]).map(
    (r) => r.first_name,
  )

test('units started together share one commit, run in order, and resolve only once committed', async (t) => {
  const { db, other } = await fileDb(t)
  const seenByOthers: string[][] = []
  const seenInside: number[] = []
  const units = ['Ann', 'Ben', 'Cat'].map((name) =>
    unitOfWork(db, async (trx) => {
      await trx.insertInto('person').values(person(name)).execute()
      seenInside.push((await trx.selectFrom('person').select('id').execute()).length)
      seenByOthers.push(names(other))
      return name
    }),
  )
  assert.deepEqual(await Promise.all(units), ['Ann', 'Ben', 'Cat'])
  assert.deepEqual(seenInside, [1, 2, 3], 'each unit sees the ones before it')
  assert.deepEqual(seenByOthers, [[], [], []], 'nothing was visible outside before the shared commit')
  assert.deepEqual(names(other), ['Ann', 'Ben', 'Cat'], 'all visible once they resolved')

  // A unit started later gets a commit of its own.
  await unitOfWork(db, async (trx) => {
    await trx.insertInto('person').values(person('Dan')).execute()
  })
  assert.deepEqual(names(other), ['Ann', 'Ben', 'Cat', 'Dan'])
})

test('a unit that throws is rolled back alone, with its own error; the others commit', async (t) => {
  const { db, other } = await fileDb(t)
  const results = await Promise.allSettled([
    unitOfWork(db, async (trx) => {
      await trx.insertInto('person').values(person('Ann')).execute()
    }),
    unitOfWork(db, async (trx) => {
      await trx.insertInto('person').values(person('Bad')).execute()
      throw new UserError(409, 'refused after writing')
    }),
    unitOfWork(db, async (trx) => {
      // A constraint failure inside the unit.
      await trx
        .insertInto('visit')
        .values({ person_id: 999, signed_in_at: 1, signed_out_at: null, closed_by: null })
        .execute()
    }),
    unitOfWork(db, async (trx) => {
      await trx.insertInto('person').values(person('Cat')).execute()
    }),
  ])
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'rejected', 'fulfilled'],
  )
  assert.equal(((results[1] as PromiseRejectedResult).reason as UserError).message, 'refused after writing')
  assert.match(String((results[2] as PromiseRejectedResult).reason), /FOREIGN KEY/)
  assert.deepEqual(names(other), ['Ann', 'Cat'])
})

test('beside a unit that throws, the others run again and are saved once; the one that throws saves nothing', async (t) => {
  const { db, other } = await fileDb(t)
  const runs = { Ann: 0, Bad: 0, Cat: 0 }
  const unit = (name: keyof typeof runs, fail = false) =>
    unitOfWork(db, async (trx) => {
      runs[name]++
      await trx.insertInto('person').values(person(name)).execute()
      if (fail) throw new UserError(409, `${name} refused`)
      return (await trx.selectFrom('person').select('first_name').execute()).map((r) => r.first_name)
    })
  const results = await Promise.allSettled([unit('Ann'), unit('Bad', true), unit('Cat')])
  // What each unit saw is what was saved: Cat never saw Bad's row.
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason))),
    [['Ann'], 'UserError: Bad refused', ['Ann', 'Cat']],
  )
  assert.deepEqual(names(other), ['Ann', 'Cat'])
  // Together first, stopped at Bad; then again, each in its own savepoint.
  assert.deepEqual(runs, { Ann: 2, Bad: 2, Cat: 1 })
})

test('units that all succeed run once each, in one transaction with no savepoint between them', {
  skip:
    testDialect !== 'postgres' &&
    'needs PostgreSQL (TEST_DATABASE=postgres): its rows show their transaction',
}, async (t) => {
  const db = await testDb(t)
  let runs = 0
  const ids = await Promise.all(
    ['Ann', 'Ben', 'Cat'].map((name) =>
      unitOfWork(db, async (trx) => {
        runs++
        return (await trx.insertInto('person').values(person(name)).returning('id').executeTakeFirstOrThrow())
          .id
      }),
    ),
  )
  assert.equal(runs, 3)
  // A savepoint makes a subtransaction: each unit's row would carry its own transaction id (xmin).
  const { rows } = await sql<{
    xmin: string
  }>`select xmin::text as xmin from person where id in (${sql.join(ids)})`.execute(db)
  assert.equal(rows.length, 3)
  assert.equal(
    new Set(rows.map((r) => r.xmin)).size,
    1,
    `one transaction id for the three: ${rows.map((r) => r.xmin)}`,
  )
})

test('a unit alone in its commit that throws saves nothing, with its own error', async (t) => {
  const { db, other } = await fileDb(t)
  await assert.rejects(
    unitOfWork(db, async (trx) => {
      await trx.insertInto('person').values(person('Bad')).execute()
      throw new UserError(409, 'refused after writing')
    }),
    /refused after writing/,
  )
  await assert.rejects(
    unitOfWork(db, async (trx) => {
      await trx.insertInto('person').values(person('Ann')).execute()
      await trx
        .insertInto('visit')
        .values({ person_id: 999, signed_in_at: 1, signed_out_at: null, closed_by: null })
        .execute()
    }),
    /FOREIGN KEY/,
  )
  assert.deepEqual(names(other), [])
  assert.equal(await unitOfWork(db, async () => 'alone'), 'alone')
})

test('more units than one commit takes are all committed, in order', async (t) => {
  const { db, other } = await fileDb(t)
  const count = MAX_SHARED_COMMIT * 2 + 7
  const done = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      unitOfWork(db, async (trx) => {
        await trx
          .insertInto('person')
          .values(person(`P${i}`))
          .execute()
        return i
      }),
    ),
  )
  assert.deepEqual(
    done,
    Array.from({ length: count }, (_, i) => i),
  )
  assert.deepEqual(
    names(other),
    Array.from({ length: count }, (_, i) => `P${i}`),
  )
})

test('a unit PostgreSQL rolls back to break a deadlock (another process took the same rows in the other order) runs again, and both commit', {
  skip:
    testDialect !== 'postgres' && 'deadlocks between processes: PostgreSQL (SQLite has one writer at a time)',
}, async (t) => {
  // Two web processes: each its own pool, so their units are two transactions.
  const database = await freshPostgresDatabase()
  const one = connectPostgres(database.url, { poolSize: 2 }).db
  const two = connectPostgres(database.url, { poolSize: 2 }).db
  t.after(async () => {
    await one.destroy()
    await two.destroy()
    await database.drop()
  })
  const added = async (name: string) =>
    (await one.insertInto('person').values(person(name)).returning('id').executeTakeFirstOrThrow()).id
  const ann = await added('Ann')
  const ben = await added('Ben')
  const oneHoldsAnn = latch()
  const twoHoldsBen = latch()
  const runs = { one: 0, two: 0 }
  // Each takes one row, waits (the first time) until the other holds the other row, then asks for it.
  const rename = (db: typeof one, side: 'one' | 'two', first: number, second: number) =>
    unitOfWork(db, async (trx) => {
      runs[side]++
      await trx.updateTable('person').set({ last_name: side }).where('id', '=', first).execute()
      if (runs[side] === 1) {
        ;(side === 'one' ? oneHoldsAnn : twoHoldsBen).open()
        await (side === 'one' ? twoHoldsBen : oneHoldsAnn).reached
      }
      await trx.updateTable('person').set({ last_name: side }).where('id', '=', second).execute()
      return side
    })
  const results = await Promise.allSettled([rename(one, 'one', ann, ben), rename(two, 'two', ben, ann)])
  assert.deepEqual(
    results.map((r) => (r.status === 'fulfilled' ? r.value : String((r.reason as Error).message))),
    ['one', 'two'],
    'neither tap is lost to the deadlock',
  )
  assert.equal(runs.one + runs.two, 3, 'the side PostgreSQL rolled back ran once more')
  const names = await one.selectFrom('person').select('last_name').orderBy('id').execute()
  const last = names.map((r) => r.last_name)
  assert.ok(last[0] === last[1], `both rows were renamed by the unit that committed last: ${last}`)
})

test('inside a transaction, a unit of work is simply part of it', async (t) => {
  const { db, other } = await fileDb(t)
  await assert.rejects(
    unitOfWork(db, async (trx) => {
      await unitOfWork(trx, async (inner) => {
        await inner.insertInto('person').values(person('Ann')).execute()
      })
      throw new Error('the outer unit fails')
    }),
  )
  assert.deepEqual(names(other), [])
})

test('one idiom: no code outside unit-of-work.ts opens a transaction of its own', () => {
  const root = fileURLToPath(new URL('../..', import.meta.url))
  const offenders: string[] = []
  for (const dir of ['server', 'tasks', 'scripts']) {
    for (const file of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.endsWith('unit-of-work.ts')) continue
      const text = readFileSync(join(root, dir, file), 'utf8')
      if (/\.transaction\(\s*\)/.test(text)) offenders.push(join(dir, file))
    }
  }
  assert.deepEqual(offenders, [], 'open units of work with unitOfWork(db, …) and pass trx down')
})
