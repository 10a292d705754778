import assert from 'node:assert/strict'
import { test } from 'node:test'
import { endOfLocalDay } from '../../lib/site-time.js'
import { buildTestApp, loginAs, type TestApp, TestBrowser } from '../../testing/build-test-app.js'
import { makePerson, makeVisit } from '../../testing/factories.js'
import { giveRole, personIdOf } from '../../testing/roles.js'

async function setup(t: Parameters<typeof buildTestApp>[0]) {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'Boss@Example.org, +44 7911 123456' } })
  const admin = await loginAs(ctx, 'boss@example.org', { firstName: 'Bea', lastName: 'Boss' })
  return { ctx, admin, adminId: await personIdOf(ctx, 'boss@example.org') }
}

const visitsOf = (ctx: TestApp, personId: number) =>
  ctx.app.ctx.db.selectFrom('visit').selectAll().where('person_id', '=', personId).orderBy('id').execute()
const auditOf = (ctx: TestApp, action: string) =>
  ctx.app.ctx.db.selectFrom('audit_event').selectAll().where('action', '=', action).orderBy('id').execute()

/** Posts a form from a page, after loading that page (for its CSRF token). */
async function submit(browser: TestBrowser, page: string, url: string, fields: Record<string, string> = {}) {
  await browser.get(page)
  return browser.post(url, fields)
}

test('ADMIN_CONTACTS makes the first verification an admin, once; a later revoke sticks', async (t) => {
  const { ctx, admin, adminId } = await setup(t)
  assert.deepEqual(
    ctx.config.ADMIN_CONTACTS,
    ['boss@example.org', '+447911123456'],
    'read as the login reads them',
  )
  const person = await admin.get('/admin/people')
  assert.equal(person.statusCode, 200, 'the listed contact became admin on first verification')
  const [granted] = await auditOf(ctx, 'role.granted')
  assert.equal(granted!.person_id, adminId)
  assert.match(granted!.detail, /"via":"ADMIN_CONTACTS"/)

  // A second admin demotes the first; signing in again does not re-grant it.
  const other = await loginAs(ctx, 'other@example.org', { firstName: 'Oli', lastName: 'Other' })
  await giveRole(ctx, 'other@example.org', 'admin')
  const demoted = await submit(other, `/admin/people/${adminId}`, `/admin/people/${adminId}/role`, {
    role: 'staff',
  })
  assert.equal(demoted.statusCode, 303)
  await loginAs(ctx, 'boss@example.org', { firstName: 'Bea', lastName: 'Boss' }, new TestBrowser(ctx.app))
  assert.equal((await admin.get('/admin/people')).statusCode, 403)
})

test('an admin searches by name or contact and sees contacts masked', async (t) => {
  const { ctx, admin } = await setup(t)
  await loginAs(ctx, 'jane.doe@example.org', { firstName: 'Jane', lastName: 'Doe' })
  const byName = await admin.get('/admin/people?q=doe')
  assert.match(byName.body, /Jane Doe<\/a>/)
  assert.doesNotMatch(byName.body, /jane\.doe@example\.org/, 'contacts are masked in the list')
  const byContact = await admin.get('/admin/people?q=JANE.DOE@EXAMPLE.ORG')
  assert.match(byContact.body, /Jane Doe<\/a>/)
  const none = await admin.get('/admin/people?q=zzz')
  assert.match(none.body, /Nobody matches/)
  const id = await personIdOf(ctx, 'jane.doe@example.org')
  const page = await admin.get(`/admin/people/${id}`)
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /j•+@example\.org/)
  assert.doesNotMatch(page.body, /jane\.doe@example\.org/)
  assert.equal((await admin.get('/admin/people/99999')).statusCode, 404)
})

test('an admin finds someone by part of their phone number, typed as people type it', async (t) => {
  const { ctx, admin } = await setup(t)
  await loginAs(ctx, '07400 555123', { firstName: 'Pat', lastName: 'Phone' })
  await loginAs(ctx, 'pat.other@example.org', { firstName: 'Pam', lastName: 'Mail' })
  for (const q of ['07400', '07400 555', '+44 7400', '+447400555123', '555123', '(07400) 555-123']) {
    const found = await admin.get(`/admin/people?q=${encodeURIComponent(q)}`)
    assert.match(found.body, /Pat Phone<\/a>/, q)
    assert.doesNotMatch(found.body, /Pam Mail<\/a>/, q)
  }
  // Another country's code, or another number's start, finds someone else.
  assert.doesNotMatch((await admin.get('/admin/people?q=%2B1%207400')).body, /Pat Phone<\/a>/)
  const boss = (await admin.get('/admin/people?q=07911')).body
  assert.match(boss, /Bea Boss<\/a>/)
  assert.doesNotMatch(boss, /Pat Phone<\/a>/)
})

test('rename, roles and the last-admin guard are audited with who did it', async (t) => {
  const { ctx, admin, adminId } = await setup(t)
  await loginAs(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Smith' })
  const sam = await personIdOf(ctx, 'sam@example.org')
  const bad = await submit(admin, `/admin/people/${sam}`, `/admin/people/${sam}/name`, {
    firstName: '',
    lastName: 'X',
  })
  assert.equal(bad.statusCode, 422)
  assert.match(bad.body, /Enter your first name/)
  const renamed = await admin.post(`/admin/people/${sam}/name`, { firstName: 'Samuel', lastName: 'Smith' })
  assert.equal(renamed.statusCode, 303)
  const [rename] = await auditOf(ctx, 'person.renamed')
  assert.equal(rename!.person_id, sam)
  assert.equal(JSON.parse(rename!.detail).by, adminId)

  await submit(admin, `/admin/people/${sam}`, `/admin/people/${sam}/role`, { role: 'reception' })
  const granted = (await auditOf(ctx, 'role.granted')).at(-1)!
  assert.equal(granted.person_id, sam)
  assert.deepEqual(JSON.parse(granted.detail), { from: 'staff', to: 'reception', by: adminId })

  const self = await submit(admin, `/admin/people/${adminId}`, `/admin/people/${adminId}/role`, {
    role: 'staff',
  })
  const page = await admin.follow(self)
  assert.match(page.body, /only administrator/)
  assert.equal((await admin.get('/admin/people')).statusCode, 200, 'still admin')
  await submit(admin, `/admin/people/${sam}`, `/admin/people/${sam}/role`, { role: 'admin' })
  const stepDown = await submit(admin, `/admin/people/${adminId}`, `/admin/people/${adminId}/role`, {
    role: 'reception',
  })
  assert.equal(stepDown.headers.location, '/', 'an admin who steps down goes home, not to a 403')
  await giveRole(ctx, 'boss@example.org', 'admin')
  const nonsense = await submit(admin, `/admin/people/${sam}`, `/admin/people/${sam}/role`, { role: 'owner' })
  assert.match((await admin.follow(nonsense)).body, /Choose staff, reception or admin/)
})

test('deactivating revokes devices, closes the open visit as admin, keeps history; reactivating lets them back', async (t) => {
  const { ctx, admin, adminId } = await setup(t)
  const phone = await loginAs(ctx, 'dan@example.org', { firstName: 'Dan', lastName: 'Dee' })
  const laptop = await loginAs(ctx, 'dan@example.org', undefined, new TestBrowser(ctx.app, '203.0.113.11'))
  const dan = await personIdOf(ctx, 'dan@example.org')
  await makeVisit(ctx.app.ctx.db, dan, { in: '2026-11-20T09:00:00Z', out: '2026-11-20T17:00:00Z' })
  await phone.get('/')
  await phone.post('/sign-in', { day: '2026-11-23' })
  ctx.clock.advance(3_600_000)

  const done = await submit(admin, `/admin/people/${dan}`, `/admin/people/${dan}/deactivate`)
  assert.equal(done.statusCode, 303)
  assert.match(
    (await admin.follow(done)).body,
    /Deactivated\. 2 device\(s\) signed out, and their open visit closed/,
  )
  const visits = await visitsOf(ctx, dan)
  assert.equal(visits.length, 2, 'history kept')
  assert.equal(visits[1]!.closed_by, 'deactivated')
  assert.equal(visits[1]!.signed_out_at, ctx.clock.now())
  // Nobody saw Dan leave: he may still be in the building, so the fire list keeps him, unconfirmed.
  const board = (await admin.get('/reception')).body
  const unconfirmed = board.slice(board.indexOf('Unconfirmed ('), board.indexOf('Visitors ('))
  assert.match(unconfirmed, /Dan Dee[\s\S]*?deactivated by an administrator 10:05, last tap 09:05/)
  for (const browser of [phone, laptop]) {
    const response = await browser.get('/')
    assert.equal(response.statusCode, 303)
    assert.equal(response.headers.location, '/login')
  }
  const again = new TestBrowser(ctx.app)
  await again.get('/login')
  await again.post('/login/code', { contact: 'dan@example.org' })
  await again.get('/login/verify')
  const refused = await again.post('/login/verify', { code: ctx.lastCode('dan@example.org') })
  assert.equal(refused.statusCode, 403)
  assert.match(refused.body, /deactivated/)
  const [audit] = await auditOf(ctx, 'person.deactivated')
  assert.deepEqual(JSON.parse(audit!.detail), {
    devicesRevoked: 2,
    closedVisitId: visits[1]!.id,
    by: adminId,
  })

  const selfDeactivate = await submit(
    admin,
    `/admin/people/${adminId}`,
    `/admin/people/${adminId}/deactivate`,
  )
  assert.match((await admin.follow(selfDeactivate)).body, /cannot deactivate yourself/)

  await submit(admin, `/admin/people/${dan}`, `/admin/people/${dan}/reactivate`)
  await loginAs(ctx, 'dan@example.org', undefined, new TestBrowser(ctx.app))
  assert.equal((await auditOf(ctx, 'person.reactivated')).length, 1)
})

test('merging moves contacts, visits, devices and audit rows, and leaves one open visit', async (t) => {
  const { ctx, admin, adminId } = await setup(t)
  const { db } = ctx.app.ctx
  const email = await loginAs(ctx, 'eve@example.org', { firstName: 'Eve', lastName: 'Evans' })
  const work = await loginAs(ctx, 'eve@work.example', { firstName: 'Eve', lastName: 'E' })
  const keep = await personIdOf(ctx, 'eve@example.org')
  const remove = await personIdOf(ctx, 'eve@work.example')
  await giveRole(ctx, 'eve@work.example', 'reception')
  await makeVisit(db, remove, { in: '2026-11-19T09:00:00Z', out: '2026-11-19T17:00:00Z' })
  await email.get('/')
  await email.post('/sign-in', { day: '2026-11-23' })
  ctx.clock.advance(60_000)
  await work.get('/')
  await work.post('/sign-in', { day: '2026-11-23' })
  const removeAudit = await db
    .selectFrom('audit_event')
    .select('id')
    .where('person_id', '=', remove)
    .execute()

  const review = await submit(admin, `/admin/people/${keep}`, `/admin/people/${keep}/merge`, {
    other: 'EVE@work.example',
  })
  assert.equal(review.statusCode, 200, 'a confirmation page first')
  assert.match(review.body, new RegExp(`Merge #${remove} into #${keep}`))
  assert.equal((await visitsOf(ctx, remove)).length, 2, 'nothing changed yet')
  const merged = await admin.post(`/admin/people/${keep}/merge`, { other: String(remove), confirm: 'yes' })
  assert.equal(merged.statusCode, 303)

  const contacts = await db
    .selectFrom('contact')
    .select('value')
    .where('person_id', '=', keep)
    .orderBy('value')
    .execute()
  assert.deepEqual(
    contacts.map((c) => c.value),
    ['eve@example.org', 'eve@work.example'],
  )
  const visits = await visitsOf(ctx, keep)
  assert.equal(visits.length, 3)
  assert.equal(visits.filter((v) => v.signed_out_at === null).length, 1, 'never two open visits')
  const closed = visits.find((v) => v.closed_by === 'admin')!
  assert.equal(closed.signed_out_at, closed.signed_in_at, 'the later duplicate is closed where it began')
  assert.equal((await visitsOf(ctx, remove)).length, 0)
  const devices = await db.selectFrom('device').select('person_id').where('person_id', '=', remove).execute()
  assert.equal(devices.length, 0)
  const moved = await db
    .selectFrom('audit_event')
    .select('person_id')
    .where(
      'id',
      'in',
      removeAudit.map((a) => a.id),
    )
    .execute()
  assert.ok(
    moved.every((a) => a.person_id === keep),
    'audit rows follow the person',
  )
  const keptPerson = await db
    .selectFrom('person')
    .selectAll()
    .where('id', '=', keep)
    .executeTakeFirstOrThrow()
  assert.equal(keptPerson.role, 'reception', 'the higher role is kept')
  const removed = await db.selectFrom('person').selectAll().where('id', '=', remove).executeTakeFirstOrThrow()
  assert.notEqual(removed.deactivated_at, null)
  const [audit] = await auditOf(ctx, 'person.merged')
  const detail = JSON.parse(audit!.detail)
  assert.equal(detail.by, adminId)
  assert.equal(detail.moved.contacts, 1)
  assert.equal(detail.closedVisitId, closed.id)
  // The work browser is the same human: it now acts as the kept person.
  assert.match((await work.get('/')).body, /signed in/)

  const selfMerge = await submit(admin, `/admin/people/${keep}`, `/admin/people/${keep}/merge`, {
    other: String(adminId),
    confirm: 'yes',
  })
  assert.match((await admin.follow(selfMerge)).body, /cannot merge your own account away/)
  const same = await submit(admin, `/admin/people/${keep}`, `/admin/people/${keep}/merge`, {
    other: 'eve@example.org',
  })
  assert.match((await admin.follow(same)).body, /That is this same person/)
  const nobody = await submit(admin, `/admin/people/${keep}`, `/admin/people/${keep}/merge`, {
    other: 'who@example.org',
  })
  assert.match((await admin.follow(nobody)).body, /Nobody matches that/)
})

test('merging: a visit left open on an earlier day beside today’s is closed at the end of its day, unconfirmed; today’s stays open', async (t) => {
  const { ctx, admin } = await setup(t)
  const { db } = ctx.app.ctx
  const phone = await loginAs(ctx, 'ivy@example.org', { firstName: 'Ivy', lastName: 'Irwin' })
  await loginAs(ctx, 'ivy@work.example', { firstName: 'Ivy', lastName: 'I' })
  const keep = await personIdOf(ctx, 'ivy@example.org')
  const remove = await personIdOf(ctx, 'ivy@work.example')
  // Forgotten three days ago on the other account; signed in today on this one.
  const forgotten = await makeVisit(db, remove, { in: '2026-11-20T09:00:00Z' })
  await phone.get('/')
  await phone.post('/sign-in', { day: '2026-11-23' })
  await submit(admin, `/admin/people/${keep}`, `/admin/people/${keep}/merge`, { other: 'ivy@work.example' })
  const merged = await admin.post(`/admin/people/${keep}/merge`, { other: String(remove), confirm: 'yes' })
  assert.equal(merged.statusCode, 303)
  const visits = await visitsOf(ctx, keep)
  const open = visits.filter((v) => v.signed_out_at === null)
  assert.equal(open.length, 1, 'never two open visits')
  assert.notEqual(
    open[0]!.id,
    forgotten,
    'today’s visit stays open: she is in today, not since an earlier day',
  )
  const old = visits.find((v) => v.id === forgotten)!
  assert.equal(old.closed_by, 'auto', 'nobody saw her leave that day')
  assert.equal(old.signed_out_at, endOfLocalDay('2026-11-20', ctx.config.TIME_ZONE))
  assert.match((await phone.get('/')).body, /You are <strong>signed in<\/strong>/)
})
test('an admin closes a forgotten visit with a note; bad times are refused', async (t) => {
  const { ctx, admin, adminId } = await setup(t)
  const fay = await makePerson(ctx.app.ctx.db, {
    firstName: 'Fay',
    lastName: 'Ford',
    email: 'fay@example.org',
  })
  const visit = await makeVisit(ctx.app.ctx.db, fay, { in: '2026-11-20T09:00:00Z' })
  const page = await admin.get(`/admin/people/${fay}`)
  assert.match(page.body, /<span class="tag">open<\/span>/)
  const early = await admin.post(`/admin/people/${fay}/visits/${visit}/close`, {
    day: '2026-11-20',
    time: '08:00',
  })
  assert.match((await admin.follow(early)).body, /left after they signed in/)
  const junk = await submit(admin, `/admin/people/${fay}`, `/admin/people/${fay}/visits/${visit}/close`, {
    day: 'soon',
    time: '25:99',
  })
  assert.match((await admin.follow(junk)).body, /Enter the day and time they left/)
  await admin.get(`/admin/people/${fay}`)
  const ok = await admin.post(`/admin/people/${fay}/visits/${visit}/close`, {
    day: '2026-11-20',
    time: '17:30',
    note: 'Left with the fire marshal, forgot to tap',
  })
  assert.match((await admin.follow(ok)).body, /Visit closed/)
  const [row] = await visitsOf(ctx, fay)
  assert.equal(row!.closed_by, 'admin')
  assert.equal(row!.signed_out_at, Date.parse('2026-11-20T17:30:00Z'))
  const [audit] = await auditOf(ctx, 'visit.closed-by-admin')
  assert.deepEqual(JSON.parse(audit!.detail), {
    visitId: visit,
    leftAt: Date.parse('2026-11-20T17:30:00Z'),
    note: 'Left with the fire marshal, forgot to tap',
    by: adminId,
  })
  await makeVisit(ctx.app.ctx.db, fay, {
    in: '2026-11-21T09:00:00Z',
    out: '2026-11-21T23:59:59.999Z',
    closedBy: 'auto',
  })
  assert.match((await admin.get(`/admin/people/${fay}`)).body, /unconfirmed<\/span> \(closed by the system\)/)
})

test('the audit log filters by person, action and local dates, and pages', async (t) => {
  const { ctx, admin } = await setup(t)
  for (let i = 0; i < 55; i++) {
    ctx.clock.advance(60_000)
    await admin.get('/admin/tokens')
    await admin.post('/admin/tokens', { name: `Screen ${i}`, role: 'reception' })
  }
  const first = await admin.get('/admin/audit?action=token')
  assert.equal((first.body.match(/<td data-label="Action">token\.created<\/td>/g) ?? []).length, 50)
  // Details read as labelled lines, not JSON.
  assert.doesNotMatch(first.body, /\{(&quot;|&#34;|")/)
  assert.match(first.body, /<dt>Role<\/dt><dd>/)
  assert.match(first.body, /href="\/admin\/audit\?action=token&amp;page=2">Older/)
  const second = await admin.get('/admin/audit?action=token&page=2')
  assert.equal((second.body.match(/<td data-label="Action">token\.created<\/td>/g) ?? []).length, 5)
  assert.match(
    (await admin.get('/admin/audit?person=boss@example.org&action=role.granted')).body,
    /role\.granted/,
  )
  const noDays = await admin.get('/admin/audit?from=2026-11-24&to=2026-11-30')
  assert.match(noDays.body, /No audit entries match/)
  const today = await admin.get('/admin/audit?from=2026-11-23&to=2026-11-23&action=code')
  assert.match(today.body, /code\.requested/)
  assert.match((await admin.get('/admin/audit?person=nobody@example.org')).body, /Nobody matches that person/)
})

test('integration tokens are shown once, stored hashed, act with their role, and stop when revoked', async (t) => {
  const { ctx, admin } = await setup(t)
  await admin.get('/admin/tokens')
  const invalid = await admin.post('/admin/tokens', { name: ' ', role: 'owner' })
  assert.equal(invalid.statusCode, 422)
  assert.match(invalid.body, /Name the system/)
  assert.match(invalid.body, /Choose what the token may do/)
  const created = await admin.post('/admin/tokens', { name: 'Lobby screen', role: 'reception' })
  assert.equal(created.statusCode, 200)
  const token = /<code id="new-token">([A-Za-z0-9_-]{43})<\/code>/.exec(created.body)?.[1]
  assert.ok(token, 'the token is shown')
  assert.doesNotMatch((await admin.get('/admin/tokens')).body, new RegExp(token), 'only once')
  const row = await ctx.app.ctx.db.selectFrom('integration_token').selectAll().executeTakeFirstOrThrow()
  assert.notEqual(row.token_hash, token)
  assert.equal(row.role, 'reception')

  const auth = { authorization: `Bearer ${token}` }
  const visits = await ctx.app.inject({ method: 'GET', url: '/api/v1/visits', headers: auth })
  assert.equal(visits.statusCode, 403, 'a reception token cannot export visits')
  const me = await ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: auth })
  assert.equal(me.statusCode, 403, 'an integration token is nobody')
  assert.match(me.json().error, /person’s own token/)

  await admin.post('/admin/tokens', { name: 'HR', role: 'admin' })
  const hr = /<code id="new-token">([A-Za-z0-9_-]{43})<\/code>/.exec(admin.lastHtml)![1]!
  const ok = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/visits',
    headers: { authorization: `Bearer ${hr}` },
  })
  assert.equal(ok.statusCode, 200)
  const used = await ctx.app.ctx.db
    .selectFrom('integration_token')
    .selectAll()
    .where('name', '=', 'HR')
    .executeTakeFirstOrThrow()
  assert.equal(used.last_used_at, ctx.clock.now())

  const revoked = await admin.post(`/admin/tokens/${used.id}/revoke`)
  assert.equal(revoked.statusCode, 303)
  const after = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/visits',
    headers: { authorization: `Bearer ${hr}` },
  })
  assert.equal(after.statusCode, 401)
  assert.deepEqual(
    (
      await ctx.app.ctx.db
        .selectFrom('audit_event')
        .select('action')
        .where('action', 'like', 'token.%')
        .execute()
    ).map((a) => a.action),
    ['token.created', 'token.created', 'token.revoked'],
  )
})
