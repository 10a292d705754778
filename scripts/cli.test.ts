import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import ExcelJS from 'exceljs'
import { buildApp } from '../server/app.js'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { TestBrowser, TestClock, testConfig } from '../server/testing/build-test-app.js'
import { makePerson, makeVisit } from '../server/testing/factories.js'
import { sharedTestDatabase } from '../server/testing/test-database.js'

const run = promisify(execFile)
const root = new URL('..', import.meta.url).pathname

/** Runs one of our scripts the way `npm run` does, against a database file. */
async function cli(script: string, args: string[], dataDir: string, database: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts', script), ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          NODE_ENV: 'development',
          DATA_DIR: dataDir,
          DATABASE_PATH: join(dataDir, 'register.db'),
          ...database,
          TIME_ZONE: 'Europe/London',
          LOG_LEVEL: 'silent',
        },
      },
    )
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

test('migrate and the report commands explain a bad setting as the web process does, with no stack trace', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'register-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const [script, args] of [
    ['migrate.ts', []],
    ['roles.ts', ['list']],
  ] as const) {
    const result = await cli(script, [...args], dir, { DEFAULT_PHONE_REGION: 'XX' })
    assert.equal(result.code, 1, script)
    assert.match(
      result.stderr,
      /^Invalid configuration:\n {2}- DEFAULT_PHONE_REGION: must be a two-letter country code/,
      script,
    )
    assert.doesNotMatch(result.stderr, /\n\s+at /, `${script}: no stack trace`)
  }
})

test('roles grant works on a fresh install, and the new admin signs in as admin', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'register-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  // A fresh install: an empty SQLite file the CLI migrates, or a PostgreSQL database migrated by
  // the release phase.
  const { env: database, db } = await sharedTestDatabase(t, join(dir, 'register.db'))

  const unknown = await cli('roles.ts', ['grant', 'Ada@Example.org', 'admin'], dir, database)
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /Nobody has signed in with ada@example\.org yet/)

  const granted = await cli(
    'roles.ts',
    ['grant', ' Ada@Example.org ', 'admin', '--name', 'Ada Lovelace'],
    dir,
    database,
  )
  assert.equal(granted.code, 0, granted.stderr)
  assert.match(granted.stdout, /Ada Lovelace <ada@example\.org> is now admin/)
  const listed = await cli('roles.ts', ['list'], dir, database)
  assert.match(listed.stdout, /^admin\s+#1\s+Ada Lovelace <ada@example\.org>/m)
  const bad = await cli('roles.ts', ['grant', 'ada@example.org', 'owner'], dir, database)
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /Give a role: staff, reception, admin/)
  const last = await cli('roles.ts', ['revoke', 'ada@example.org'], dir, database)
  assert.equal(last.code, 1)
  assert.match(last.stderr, /only administrator/)

  // The same database, opened by the web app: Ada signs in with a code and is an admin.
  const config = testConfig(database)
  const outbox: string[] = []
  const app = await buildApp(config, {
    db,
    clock: new TestClock(),
    logger: false,
    channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
  })
  t.after(() => app.close())
  const audit = await db.selectFrom('audit_event').select(['action', 'ip']).execute()
  assert.deepEqual(
    audit.map((a) => [a.action, a.ip]),
    [
      ['person.created', 'cli'],
      ['role.granted', 'cli'],
    ],
  )
  const browser = new TestBrowser(app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'ada@example.org' })
  await browser.get('/login/verify')
  const code = /code[^0-9]*is (\d{6})/.exec(outbox.at(-1) ?? '')?.[1]
  assert.ok(code, 'a code was sent')
  const signedIn = await browser.post('/login/verify', { code })
  assert.equal(signedIn.statusCode, 303, 'no name asked: the CLI gave it')
  assert.equal((await browser.get('/admin/people')).statusCode, 200)
})

test('visits and stats export a range as CSV or XLSX to stdout or a file; bad dates are explained', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'register-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const { env: database, db } = await sharedTestDatabase(t, join(dir, 'register.db'))
  const ann = await makePerson(db, { firstName: 'Ann', lastName: 'Archer', email: 'ann@example.org' })
  await makeVisit(db, ann, { in: '2026-10-24T23:30:00Z', out: '2026-10-25T01:30:00Z' })
  await makeVisit(db, ann, { in: '2026-10-26T09:00:00Z', out: '2026-10-26T23:59:59.999Z', closedBy: 'auto' })
  await makeVisit(db, ann, { in: '2026-10-27T09:00:00Z' })

  const csv = await cli('visits.ts', ['--from', '2026-10-25', '--to', '2026-10-27'], dir, database)
  assert.equal(csv.code, 0, csv.stderr)
  const rows = csv.stdout.trim().split('\n')
  assert.equal(rows.length, 4)
  assert.match(rows[1]!, /,Ann,Archer,2026-10-25,2026-10-25 00:30,2026-10-25 01:30,120,signed-out,/)
  assert.match(rows[2]!, /,2026-10-26,.*,auto-closed,/)
  assert.match(rows[3]!, /,2026-10-27,2026-10-27 09:00,,,open,/)

  const summary = await cli(
    'visits.ts',
    ['--from', '2026-10-25', '--to', '2026-10-27', '--summary'],
    dir,
    database,
  )
  assert.match(
    summary.stdout,
    /person_id,first_name,last_name,days_in_office,days_not_signed_out,percent_not_signed_out/,
  )
  assert.match(summary.stdout, /,Ann,Archer,3,2,67/)

  const out = join(dir, 'visits.xlsx')
  const xlsx = await cli(
    'visits.ts',
    ['--from', '2026-10-25', '--to', '2026-10-27', '--format', 'xlsx', '--out', out],
    dir,
    database,
  )
  assert.equal(xlsx.code, 0, xlsx.stderr)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(readFileSync(out) as unknown as ArrayBuffer)
  assert.equal(workbook.getWorksheet('Visits')!.rowCount, 4)

  const stats = await cli(
    'stats.ts',
    ['--from', '2026-10-25', '--to', '2026-10-27', '--format', 'csv'],
    dir,
    database,
  )
  assert.equal(
    stats.stdout.trim(),
    'date,visitors,not_signed_out,average_stay_minutes\n2026-10-25,1,0,120\n2026-10-26,1,1,\n2026-10-27,1,1,',
  )
  const table = await cli('stats.ts', ['--from', '2026-10-25', '--to', '2026-10-27'], dir, database)
  assert.match(table.stdout, /1 person, 3 visits from 2026-10-25 to 2026-10-27; average stay 120 min\./)

  const bad = await cli('visits.ts', ['--from', '2026-02-30'], dir, database)
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /2026-02-30 does not exist in the calendar/)
  const format = await cli('visits.ts', ['--format', 'pdf'], dir, database)
  assert.equal(format.code, 2)
})
