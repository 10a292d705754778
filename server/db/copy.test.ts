import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { sql } from 'kysely'
import { buildApp } from '../app.js'
import { consoleChannel } from '../messaging/console.channel.js'
import { projectRoot } from '../paths.js'
import { countPeopleInside } from '../register/visit.repository.js'
import { loginAs, TestClock, testConfig } from '../testing/build-test-app.js'
import { makePerson, makeVisit } from '../testing/factories.js'
import { freshPostgresDatabase, testDialect } from '../testing/test-database.js'
import { connect, connectPostgres, type Db } from './connect.js'
import { copyDatabase } from './copy.js'
import { migrateToLatest } from './migrate.js'

const run = promisify(execFile)

/** `npm run db:copy` as an operator runs it (from source, as tsx runs it). */
async function dbCopy(from: string, to: string) {
  return run(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'scripts', 'db-copy.ts'), '--from', from, '--to', to],
    {
      cwd: projectRoot,
    },
  ).catch((error: { code: number; stdout: string; stderr: string }) => error)
}

/** Every row of every table, each table in primary-key order. */
async function everyRow(db: Db, tables: string[]): Promise<Record<string, unknown[]>> {
  const all: Record<string, unknown[]> = {}
  for (const table of tables) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)
    all[table] = rows
      .map((r) =>
        JSON.stringify(Object.fromEntries(Object.entries(r).sort(([a], [b]) => a.localeCompare(b)))),
      )
      .sort()
  }
  return all
}

test('db:copy moves a used SQLite register into an empty PostgreSQL one: every row equal, ids continue', {
  skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'br-copy-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'register.db')

  // A register in use: people signed in through the pages (codes, devices, audit, messages),
  // visits open and closed, a roll call.
  const outbox: string[] = []
  const clock = new TestClock()
  const app = await buildApp(testConfig({ DATABASE_PATH: file }), {
    clock,
    logger: false,
    channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
  })
  const lastCode = (contact: string) =>
    /code[^0-9]*is (\d{6})/.exec(outbox.findLast((l) => l.includes(contact))!)![1]!
  const test = { app, clock, config: app.ctx.config, outbox, lastCode }
  for (const who of ['ann', 'ben', 'cat']) {
    const browser = await loginAs(test, `${who}@example.org`, { firstName: who, lastName: "O'Brien ü" })
    await browser.get('/')
    await browser.post('/sign-in', { day: '2026-11-23' })
  }
  const db = app.ctx.db
  for (let i = 0; i < 700; i++) {
    const person = await makePerson(db, { firstName: `P${i}`, lastName: 'Batch', email: `p${i}@example.org` })
    await makeVisit(db, person, { in: '2026-11-20T09:00:00Z', out: '2026-11-20T17:00:00Z' })
  }
  await app.close()

  const target = await freshPostgresDatabase()
  t.after(() => target.drop())
  const copied = await dbCopy(file, target.url)
  assert.equal((copied as { code?: number }).code ?? 0, 0, copied.stderr)
  assert.match(copied.stdout, /every row count and checksum matches/)

  const source = connect(file).db
  const copy = connectPostgres(target.url, { poolSize: 1 }).db
  t.after(async () => {
    await source.destroy()
    await copy.destroy()
  })
  // The counter's slots are kept by triggers on each side (which slot is the connection's): its sum is checked below.
  const tables = (await copy.introspection.getTables())
    .map((t) => t.name)
    .filter((name) => name !== 'occupancy_slot')
  const [before, after] = [await everyRow(source, tables), await everyRow(copy, tables)]
  assert.ok((before.visit?.length ?? 0) > 700 && (before.audit_event?.length ?? 0) > 0, 'a register in use')
  assert.deepEqual(after, before)
  assert.equal(await countPeopleInside(copy), 3, 'the people-inside counter follows the copied open visits')

  // New rows take ids after the copied ones.
  const next = await makePerson(copy, { firstName: 'New', lastName: 'Person', email: 'new@example.org' })
  const highest = await copy
    .selectFrom('person')
    .select((eb) => eb.fn.max('id').as('id'))
    .executeTakeFirstOrThrow()
  assert.equal(next, highest.id)
  assert.ok(next > 703)

  // A second copy into the now non-empty database is refused, and changes nothing.
  const again = await dbCopy(file, target.url)
  assert.equal((again as { code?: number }).code, 1)
  assert.match(again.stderr, /The target database is not empty \(rows in .*person/)
  assert.equal((await everyRow(copy, ['person'])).person!.length, 704)
})

test('a copy PostgreSQL rolls back to let another transaction go first runs again, its progress counted from the start, never past the total', {
  skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'br-copy-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const source = connect(join(dir, 'register.db')).db
  await migrateToLatest(source)
  for (let i = 0; i < 30; i++)
    await makePerson(source, { firstName: `P${i}`, lastName: 'Retry', email: `r${i}@example.org` })
  const target = await freshPostgresDatabase()
  t.after(() => target.drop())
  const copy = connectPostgres(target.url, { poolSize: 2 }).db
  t.after(async () => {
    await source.destroy()
    await copy.destroy()
  })
  // The first attempt loses a deadlock, as PostgreSQL reports it (40P01), once the people are in:
  // the contacts' first row fails it (a sequence, which a rollback does not undo, counts the tries).
  await sql`create sequence copy_tries`.execute(copy)
  await sql`create function lose_first_try() returns trigger language plpgsql as $$
    begin
      if nextval('copy_tries') = 1 then
        raise exception 'deadlock detected' using errcode = '40P01';
      end if;
      return new;
    end $$`.execute(copy)
  await sql`create trigger lose_first_try before insert on contact for each row execute function lose_first_try()`.execute(
    copy,
  )

  const reports: [number, number][] = []
  await copyDatabase(source, copy, {
    batchSize: 10,
    onProgress: (done, total) => reports.push([done, total]),
  })

  const { rows } = await sql<{ tries: number }>`select last_value as tries from copy_tries`.execute(copy)
  assert.ok(Number(rows[0]!.tries) > 1, 'the copy ran again after the rollback')
  const total = reports[0]![1]
  assert.ok(
    reports.every(([done]) => done <= total),
    `never past the total (${total}): ${JSON.stringify(reports)}`,
  )
  assert.deepEqual(reports.at(-1), [total, total])
  assert.equal((await everyRow(copy, ['person'])).person!.length, 30)
})
