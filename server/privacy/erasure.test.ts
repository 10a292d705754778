import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import { createIntegrationToken } from '../identity/integration-token.service.js'
import { cliContext } from '../identity/roles.service.js'
import { fireList, fireListSettings } from '../reception/presence.service.js'
import { endRollCall, startRollCall } from '../reception/roll-call.service.js'
import { parseDateRange } from '../reports/date-range.js'
import { buildStats } from '../reports/reports.service.js'
import { buildTestApp, loginAs, type TestApp, TestBrowser } from '../testing/build-test-app.js'
import { personWithRole, tapSignIn, tapSignOut } from '../testing/reception.js'
import { personIdOf } from '../testing/roles.js'

/** Every text-bearing value in every table of the database (found by introspection) that contains a term. */
async function traces(test: TestApp, terms: string[]): Promise<string[]> {
  const { db } = test.app.ctx
  const found: string[] = []
  const tables = await db.introspection.getTables()
  assert.ok(tables.length >= 30, 'every table is searched')
  for (const table of tables) {
    for (const column of table.columns) {
      for (const term of terms) {
        const rows = await sql<{ value: string }>`select cast(${sql.ref(column.name)} as text) as value
          from ${sql.table(table.name)}
          where lower(cast(${sql.ref(column.name)} as text)) like ${`%${term.toLowerCase()}%`}`.execute(db)
        for (const row of rows.rows) found.push(`${table.name}.${column.name}: ${row.value.slice(0, 200)}`)
      }
    }
  }
  return found
}

test('erasure: a dry run first, then no trace of the name, contacts or directory ids anywhere; visits and statistics unchanged; one audit row', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const admin = await personWithRole(ctx, 'ada@example.org', { firstName: 'Ada', lastName: 'Admin' }, 'admin')
  const desk = await personWithRole(
    ctx,
    'rita@example.org',
    { firstName: 'Rita', lastName: 'Desk' },
    'reception',
  )

  // Zephyrine comes from the directory (userName, externalId, email and mobile), then signs in.
  const { token } = await createIntegrationToken(
    db,
    { personId: null, at: ctx.clock.now(), context: cliContext('test') },
    { name: 'Entra ID' },
    'scim',
  )
  const created = await ctx.app.inject({
    method: 'POST',
    url: '/scim/v2/Users',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
    payload: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'zq.login@example.org',
      externalId: 'ext-zq-4471-quill',
      active: true,
      name: { givenName: 'Zephyrine', familyName: 'Quillfeather' },
      emails: [{ primary: true, type: 'work', value: 'zephyrine.q@example.org' }],
      phoneNumbers: [{ type: 'mobile', value: '+44 7911 123461' }],
    }),
  })
  assert.equal(created.statusCode, 201, created.body)
  const zq = await loginAs(
    ctx,
    'zephyrine.q@example.org',
    { firstName: 'Zephyrine', lastName: 'Quillfeather' },
    new TestBrowser(ctx.app, '198.18.9.9'),
  )
  const id = await personIdOf(ctx, 'zephyrine.q@example.org')
  await tapSignIn(zq)
  ctx.clock.advance(8 * 3_600_000)
  await tapSignOut(zq)
  ctx.clock.advance(16 * 3_600_000)
  await tapSignIn(zq)
  await zq.get('/profile/export.json')

  // Reception runs a drill: her name is copied into the roll call and its report in the audit trail;
  // a typed broadcast names her and reaches her mobile.
  await desk.browser.get('/reception')
  const rollCall = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location,
  )
  await desk.browser.get(rollCall)
  await desk.browser.post(`${rollCall}/marks`, { person: String(id), status: 'safe' })
  await desk.browser.get('/reception/broadcasts/new')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'free',
    audience: 'inside',
    message: 'Zephyrine Quillfeather, please call reception.',
  })
  assert.equal(sent.statusCode, 303)
  await desk.browser.get(rollCall)
  await desk.browser.post(`${rollCall}/end`, {})
  ctx.clock.advance(3_600_000)
  await tapSignOut(zq)

  const terms = [
    'Zephyrine',
    'Quillfeather',
    'zephyrine.q@example.org',
    '7911123461',
    'zq.login',
    'ext-zq-4471',
  ]
  assert.ok((await traces(ctx, terms)).length > 10, 'the scan finds her before')
  const site = { timeZone: ctx.config.TIME_ZONE, now: ctx.clock.now() }
  const range = parseDateRange({ from: '2026-11-01', to: '2026-11-30' }, site)
  const statsBefore = await buildStats(db, range, site)
  const visitsBefore = await db.selectFrom('visit').selectAll().where('person_id', '=', id).execute()
  assert.equal(visitsBefore.length, 2)

  // The dry run lists what would go and changes nothing.
  const dry = await admin.browser.get(`/admin/people/${id}/erase`)
  assert.equal(dry.statusCode, 200)
  assert.match(dry.body, /Erase Zephyrine Quillfeather/)
  assert.match(
    dry.body,
    /<td data-label="Records">contact<\/td><td data-label="Rows">2<\/td><td data-label="What happens">deleted/,
  )
  assert.match(
    dry.body,
    /<td data-label="Records">visit<\/td><td data-label="Rows">2<\/td><td data-label="What happens">kept/,
  )
  assert.match(dry.body, /audit_event \(mentions elsewhere\)/)
  assert.equal((await db.selectFrom('contact').select('id').where('person_id', '=', id).execute()).length, 2)

  const erased = await admin.browser.post(`/admin/people/${id}/erase`)
  assert.equal(erased.statusCode, 303)
  const page = await admin.browser.follow(erased)
  assert.match(page.body, /Erased person #\d+/)
  assert.match(page.body, /Erased on /)

  assert.deepEqual(await traces(ctx, terms), [], 'no trace of her in any table')
  const statsAfter = await buildStats(db, range, site)
  assert.deepEqual(statsAfter.days, statsBefore.days)
  assert.deepEqual(statsAfter.heatmap, statsBefore.heatmap)
  assert.deepEqual(statsAfter.totals, statsBefore.totals)
  assert.deepEqual(
    await db.selectFrom('visit').selectAll().where('person_id', '=', id).execute(),
    visitsBefore,
  )

  const audit = await db.selectFrom('audit_event').selectAll().where('person_id', '=', id).execute()
  assert.deepEqual(
    audit.map((a) => a.action),
    ['person.erased'],
  )
  assert.deepEqual(JSON.parse(audit[0]!.detail), { by: admin.id, devicesRevoked: 1 })
  const person = await db.selectFrom('person').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  assert.equal(person.first_name, 'Erased')
  assert.notEqual(person.erased_at, null)
  assert.notEqual(person.deactivated_at, null)
  // The drill report still counts her, without her name.
  const report = await desk.browser.get(`${rollCall}/report.csv`)
  assert.match(report.body, /Erased/)
  // Her old device no longer works, and erasing twice is refused.
  assert.equal((await zq.get('/')).headers.location, '/login')
  await admin.browser.get(`/admin/people/${desk.id}`)
  assert.equal((await admin.browser.post(`/admin/people/${id}/erase`)).statusCode, 303)
  assert.match((await admin.browser.get(`/admin/people/${id}`)).body, /already been erased/)
})

test('erasure: refused while they are signed in (the fire list), for the last admin and for oneself; admins only', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const ada = await personWithRole(ctx, 'ada@example.org', { firstName: 'Ada', lastName: 'Admin' }, 'admin')
  const staff = await personWithRole(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Staff' })
  assert.equal((await staff.browser.get(`/admin/people/${ada.id}/erase`)).statusCode, 403)

  // Ada is the only admin: erasing her is refused, with the reason on her page.
  const refused = await ada.browser.get(`/admin/people/${ada.id}/erase`)
  assert.equal(refused.statusCode, 303)
  assert.match((await ada.browser.follow(refused)).body, /would leave nobody able to administer the site/)

  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Boss' }, 'admin')
  const self = await bob.browser.get(`/admin/people/${bob.id}/erase`)
  assert.match((await bob.browser.follow(self)).body, /You cannot erase yourself/)

  // Ada is signed in: erasing her would take her off the fire list while she may be inside, so it
  // is refused, on the dry run and on the erasure, with what to do instead; nothing changes.
  await tapSignIn(ada.browser)
  const dry = await bob.browser.get(`/admin/people/${ada.id}/erase`)
  assert.equal(dry.statusCode, 303)
  assert.match(
    (await bob.browser.follow(dry)).body,
    /Ada Admin is signed in\. Erasing them now would take them off the fire list/,
  )
  const early = await bob.browser.post(`/admin/people/${ada.id}/erase`)
  assert.equal(early.statusCode, 303)
  assert.match((await bob.browser.follow(early)).body, /would take them off the fire list/)
  const open = await db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', ada.id)
    .executeTakeFirstOrThrow()
  assert.equal(open.signed_out_at, null)
  assert.equal(
    (await db.selectFrom('person').select('erased_at').where('id', '=', ada.id).executeTakeFirstOrThrow())
      .erased_at,
    null,
  )
  // Once she has left, Bob erases her; her visit is kept, anonymous, closed by her.
  await tapSignOut(ada.browser)
  assert.equal((await bob.browser.post(`/admin/people/${ada.id}/erase`)).statusCode, 303)
  const visit = await db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', ada.id)
    .executeTakeFirstOrThrow()
  assert.equal(visit.closed_by, 'person')
  const row = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('person_id', '=', ada.id)
    .executeTakeFirstOrThrow()
  assert.deepEqual(JSON.parse(row.detail), { by: bob.id, devicesRevoked: 1 })
  assert.equal(
    (await db.selectFrom('person').select('role').where('id', '=', ada.id).executeTakeFirstOrThrow()).role,
    'staff',
  )
  // Bob is now the last admin: nobody can erase him.
  await bob.browser.get('/admin/people')
  assert.equal((await bob.browser.get(`/admin/people/${bob.id}/erase`)).statusCode, 303)
})

test('erasure: refused while the fire list still lists them as Unconfirmed (deactivated while inside), or a running roll call has a line for them', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const context = { ip: '203.0.113.9', userAgent: 'test' }
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Boss' }, 'admin')
  const sam = await personWithRole(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Staff' })
  const tia = await personWithRole(ctx, 'tia@example.org', { firstName: 'Tia', lastName: 'Staff' })
  const onFireList = async (personId: number) => {
    const list = await fireList(db, ctx.clock.now(), fireListSettings(ctx.config))
    return [...list.in, ...list.unconfirmed].find((p) => p.personId === personId)
  }
  const erase = async (personId: number) => {
    await bob.browser.get(`/admin/people/${personId}`)
    const r = await bob.browser.post(`/admin/people/${personId}/erase`)
    assert.equal(r.statusCode, 303)
    return (await bob.browser.follow(r)).body
  }
  const erased = async (personId: number) =>
    (await db.selectFrom('person').select('erased_at').where('id', '=', personId).executeTakeFirstOrThrow())
      .erased_at !== null

  // Sam is at his desk on his last day; Bob deactivates him at once (visit closed, nobody saw him go).
  await tapSignIn(sam.browser)
  await bob.browser.get(`/admin/people/${sam.id}`)
  assert.equal((await bob.browser.post(`/admin/people/${sam.id}/deactivate`)).statusCode, 303)
  assert.equal((await onFireList(sam.id))?.group, 'unconfirmed', 'deactivation leaves him Unconfirmed')
  // Erasing him now would leave an "Erased person" with no name or phone on the fire list.
  assert.match(await erase(sam.id), /Sam Staff may still be in the building/)
  assert.equal(await erased(sam.id), false, 'nothing erased')
  const dry = await bob.browser.get(`/admin/people/${sam.id}/erase`)
  assert.match((await bob.browser.follow(dry)).body, /may still be in the building/, 'nor planned')
  assert.equal((await onFireList(sam.id))?.firstName, 'Sam', 'still named on the fire list')

  // Tia signs out during a roll call: off the fire list, but her line counts until a marshal finds her.
  await tapSignIn(tia.browser)
  const marshal = await personWithRole(
    ctx,
    'mo@example.org',
    { firstName: 'Mo', lastName: 'Marshal' },
    'reception',
  )
  const { rollCall } = await startRollCall(db, {
    personId: marshal.id,
    at: ctx.clock.now(),
    context,
    kind: 'real',
    fireList: fireListSettings(ctx.config),
  })
  ctx.clock.advance(60_000)
  await tapSignOut(tia.browser)
  assert.equal(await onFireList(tia.id), undefined, 'off the fire list')
  assert.match(await erase(tia.id), /Tia Staff is on the roll call running now/)
  assert.equal(await erased(tia.id), false, 'nothing erased while the roll call runs')

  // Once the roll call has ended and the fire list no longer lists Sam, both can be erased.
  await endRollCall(db, {
    rollCallId: rollCall.id,
    personId: marshal.id,
    at: ctx.clock.now(),
    context,
    timeZone: ctx.config.TIME_ZONE,
  })
  await erase(tia.id)
  assert.equal(await erased(tia.id), true, 'Tia erased once the roll call ended')
  ctx.clock.advance(ctx.config.FIRE_LIST_AUTO_CLOSED_HOURS * 3_600_000)
  assert.equal(await onFireList(sam.id), undefined, 'the fire list has let Sam go')
  await erase(sam.id)
  assert.equal(await erased(sam.id), true, 'Sam erased once nothing lists him')
})
