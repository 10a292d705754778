import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs } from '../testing/build-test-app.js'
import { loginWithRole, personIdOf } from '../testing/roles.js'
import { PERSON_TABLES } from './person-data.js'

test('every table with a person_id column is covered by the export (and erasure)', async (t) => {
  const { app } = await buildTestApp(t)
  const tables = await app.ctx.db.introspection.getTables()
  const withPerson = tables
    .filter((table) => table.columns.some((c) => c.name === 'person_id'))
    .map((table) => table.name)
  assert.ok(withPerson.length >= 10)
  const missing = withPerson.filter((name) => !(name in PERSON_TABLES))
  assert.deepEqual(
    missing,
    [],
    `add these tables to PERSON_TABLES in server/privacy/person-data.ts: ${missing.join(', ')}`,
  )
  for (const [name, { column }] of Object.entries(PERSON_TABLES)) {
    const table = tables.find((x) => x.name === name)
    assert.ok(
      table?.columns.some((c) => c.name === column),
      `${name}.${column} exists`,
    )
  }
})

test('a person downloads their own data as JSON and CSV, secrets left out; audited; others are refused', async (t) => {
  const ctx = await buildTestApp(t)
  const alice = await loginAs(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' })
  await alice.get('/')
  await alice.follow(await alice.post('/sign-in', { day: '2026-11-23' }))
  const aliceId = await personIdOf(ctx, 'alice@example.org')

  const json = await alice.get('/profile/export.json')
  assert.equal(json.statusCode, 200)
  assert.match(
    String(json.headers['content-disposition']),
    /attachment; filename="person-\d+-2026-11-23\.json"/,
  )
  assert.equal(json.headers['cache-control'], 'no-store')
  const data = json.json()
  assert.equal(data.person.first_name, 'Alice')
  assert.deepEqual(
    data.contact.map((c: { value: string }) => c.value),
    ['alice@example.org'],
  )
  assert.equal(data.visit.length, 1)
  assert.equal(data.device.length, 1)
  assert.doesNotMatch(json.body, /token_hash|code_hash|pin_hash|p256dh/, 'no hashes or keys')
  assert.ok(data.audit_event.some((a: { action: string }) => a.action === 'visit.signed-in'))
  assert.ok(data.message.length >= 1, 'the login code message is listed')
  for (const table of Object.keys(PERSON_TABLES)) assert.ok(Array.isArray(data[table]), table)

  const csv = await alice.get('/profile/export.csv')
  assert.equal(csv.statusCode, 200)
  assert.match(String(csv.headers['content-type']), /^text\/csv/)
  assert.match(csv.body, /^table,row,field,value\n/)
  assert.match(csv.body, /\ncontact,1,value,alice@example\.org\n/)
  assert.match(csv.body, /\nperson,1,first_name,Alice\n/)

  const audited = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select(['detail', 'person_id'])
    .where('action', '=', 'person.exported')
    .execute()
  assert.equal(audited.length, 2)
  assert.deepEqual(JSON.parse(audited[0]!.detail), { by: aliceId, format: 'json' })

  const bob = await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' })
  const refused = await bob.get(`/admin/people/${aliceId}/export.json`)
  assert.equal(refused.statusCode, 403)
  assert.equal((await bob.get('/profile/export.xml')).statusCode, 400)
})

test('an admin downloads anyone’s data; the audit row says who asked', async (t) => {
  const ctx = await buildTestApp(t)
  await loginAs(ctx, 'carol@example.org', { firstName: 'Carol', lastName: 'White' })
  const carol = await personIdOf(ctx, 'carol@example.org')
  const { browser: admin, id: adminId } = await loginWithRole(ctx, 'admin@example.org', 'admin')
  const page = await admin.get(`/admin/people/${carol}`)
  assert.match(page.body, new RegExp(`href="/admin/people/${carol}/export.csv"`))
  const r = await admin.get(`/admin/people/${carol}/export.json`)
  assert.equal(r.statusCode, 200)
  assert.equal(r.json().person.first_name, 'Carol')
  assert.equal((await admin.get('/admin/people/99999/export.json')).statusCode, 404)
  const row = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select(['detail', 'person_id'])
    .where('action', '=', 'person.exported')
    .executeTakeFirstOrThrow()
  assert.equal(row.person_id, carol)
  assert.equal(JSON.parse(row.detail).by, adminId)
})
