import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import pg from 'pg'
import { buildApp } from '../app.js'
import { consoleChannel } from '../messaging/console.channel.js'
import { projectRoot } from '../paths.js'
import { startRollCall } from '../reception/roll-call.service.js'
import { countPeopleInside } from '../register/visit.repository.js'
import { loginAs, TestClock, testConfig } from '../testing/build-test-app.js'
import { freshPostgresDatabase, onTestServer, testDialect, uniqueName } from '../testing/test-database.js'

/** The GRANTs docs/database.md tells operators to run, exactly as written there. */
function documentedGrants(): string {
  const doc = readFileSync(join(projectRoot, 'docs', 'database.md'), 'utf8')
  const block = /<!-- runtime-grants:start -->\s*```sql\n([\s\S]*?)```\s*<!-- runtime-grants:end -->/.exec(
    doc,
  )
  assert.ok(block, 'docs/database.md has the runtime-grants block')
  return block[1]!
}

test('a runtime role with only the documented grants reads and writes rows, and cannot change the schema', {
  skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
}, async (t) => {
  const database = await freshPostgresDatabase()
  const name = new URL(database.url).pathname.slice(1)
  const role = uniqueName('app')
  const owner = new pg.Client({ connectionString: database.url })
  owner.on('error', () => {})
  await owner.connect()
  const runtimeUrl = new URL(database.url)
  runtimeUrl.username = role
  runtimeUrl.password = 'change-me'
  const runtime = new pg.Client({ connectionString: runtimeUrl.toString() })
  runtime.on('error', () => {})
  t.after(async () => {
    await runtime.end()
    await owner.end()
    await database.drop()
    await onTestServer(`drop role if exists ${role}`)
  })
  // The template's tables belong to the test server's superuser: it plays register_owner.
  const { rows } = await owner.query<{ user: string }>('select current_user as user')
  await owner.query(
    documentedGrants()
      .replaceAll('register_app', role)
      .replaceAll('register_owner', rows[0]!.user)
      .replace(/DATABASE register\b/g, `DATABASE ${name}`),
  )

  // The whole app runs as the runtime role: a person signs in with a code and taps in.
  const outbox: string[] = []
  const clock = new TestClock()
  const app = await buildApp(testConfig({ DATABASE_URL: runtimeUrl.toString() }), {
    clock,
    logger: false,
    channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
  })
  t.after(() => app.close())
  const lastCode = (contact: string) =>
    /code[^0-9]*is (\d{6})/.exec(outbox.findLast((l) => l.includes(contact))!)![1]!
  const alice = await loginAs({ app, clock, config: app.ctx.config, outbox, lastCode }, 'alice@example.org')
  await alice.get('/')
  assert.equal((await alice.post('/sign-in', { day: '2026-11-23' })).statusCode, 303)
  assert.equal(await countPeopleInside(app.ctx.db), 1, 'the occupancy trigger ran for the runtime role')
  // A roll call's start locks out sign-ins in flight (LOCK TABLE … IN SHARE MODE needs UPDATE).
  const person = await app.ctx.db.selectFrom('person').select('id').executeTakeFirstOrThrow()
  const fireList = { timeZone: 'Europe/London', stillHereHours: 2, autoClosedHours: 12 }
  const context = { ip: '127.0.0.1', userAgent: 'test' }
  const { rollCall } = await startRollCall(app.ctx.db, {
    personId: person.id,
    at: clock.now(),
    context,
    kind: 'drill',
    fireList,
  })
  const listed = await app.ctx.db
    .selectFrom('roll_call_person')
    .select('person_id')
    .where('roll_call_id', '=', rollCall.id)
    .execute()
  assert.deepEqual(
    listed.map((r) => r.person_id),
    [person.id],
  )
  await app.ctx.db.deleteFrom('visit').execute()

  await runtime.connect()
  for (const statement of [
    'create table intruder (id integer)',
    'alter table person add column intruder text',
    'alter table visit drop constraint visit_out_after_in',
    'drop table audit_event',
    'create index intruder on visit (signed_out_at)',
    'drop index visit_one_open_per_person',
    'truncate visit',
    'alter table visit disable trigger occupancy_visit_insert',
    'create function intruder() returns integer language sql as $$ select 1 $$',
    'create schema intruder',
  ]) {
    await assert.rejects(runtime.query(statement), { code: '42501' }, statement)
  }
})
