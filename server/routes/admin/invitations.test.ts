import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { connectPostgres, type Db } from '../../db/connect.js'
import { unitOfWork } from '../../db/unit-of-work.js'
import { importInvitations, invitationDepsOf } from '../../invitations/invitation.service.js'
import { DEVICE_COOKIE } from '../../plugins/auth.js'
import { buildTestApp, type TestApp, TestBrowser } from '../../testing/build-test-app.js'
import { eventually } from '../../testing/eventually.js'
import { makePerson } from '../../testing/factories.js'
import { FakeGraph } from '../../testing/fake-graph.js'
import { FakeTwilio } from '../../testing/fake-twilio.js'
import { latch } from '../../testing/races.js'
import { giveRole } from '../../testing/roles.js'
import { testDialect } from '../../testing/test-database.js'

const linkIn = (text: string) =>
  /\/invite\/([A-Za-z0-9_-]{43})/.exec(text)?.[1] ?? assert.fail(`no link in ${text}`)

/** Signs a person in by an emailed code through the real pages (the fake Graph holds the mail). */
async function signIn(ctx: TestApp, graph: FakeGraph, email: string, name: [string, string], ip?: string) {
  const browser = new TestBrowser(ctx.app, ip)
  await browser.get('/login')
  assert.equal((await browser.post('/login/code', { contact: email })).statusCode, 303)
  await browser.get('/login/verify')
  const code = />(\d{6})<\/p>/.exec(graph.lastTo(email)!.content)![1]!
  const done = await browser.post('/login/verify', { code, firstName: name[0], lastName: name[1] })
  assert.equal(done.statusCode, 303)
  return browser
}

async function setup(t: TestContext, env: Record<string, string> = {}) {
  const twilio = await FakeTwilio.start(t)
  const graph = await FakeGraph.start(t)
  const ctx = await buildTestApp(t, {
    env: { ...twilio.env(), ...graph.env(), ADMIN_CONTACTS: 'boss@example.org', ...env },
    channelsFromConfig: true,
  })
  const admin = await signIn(ctx, graph, 'boss@example.org', ['Bea', 'Boss'])
  return { ctx, twilio, graph, admin }
}

/** Posts the import form as the browser does (multipart/form-data), from the admin page just loaded. */
async function postImport(
  browser: TestBrowser,
  fields: Record<string, string>,
  file?: { name: string; content: string | Buffer },
  withCsrf = true,
) {
  await browser.get('/admin/invitations')
  return sendImportForm(browser, fields, file, withCsrf)
}

/** Sends the import form of the page last loaded, with its hidden fields, as multipart/form-data. */
async function sendImportForm(
  browser: TestBrowser,
  fields: Record<string, string>,
  file?: { name: string; content: string | Buffer },
  withCsrf = true,
) {
  const form = new FormData()
  if (withCsrf) form.set('_csrf', browser.csrfToken())
  const formKey = /name="formKey" value="([^"]*)"/.exec(browser.lastHtml)?.[1]
  if (formKey) form.set('formKey', formKey)
  for (const [key, value] of Object.entries(fields)) form.set(key, value)
  if (file) form.set('file', new Blob([file.content], { type: 'text/csv' }), file.name)
  const encoded = new Response(form)
  return browser.request({
    method: 'POST',
    url: '/admin/invitations',
    payload: Buffer.from(await encoded.arrayBuffer()),
    headers: { 'content-type': encoded.headers.get('content-type')! },
  })
}

/** A pool of its own on the app's PostgreSQL database, as another web process has; closed at the end. */
function otherProcess(t: TestContext, ctx: TestApp): Db {
  const { db } = connectPostgres(ctx.config.DATABASE_URL!, { poolSize: 2 })
  t.after(() => db.destroy())
  return db
}

const invitations = (ctx: TestApp) =>
  ctx.app.ctx.db.selectFrom('invitation').selectAll().orderBy('id').execute()
const auditCount = async (ctx: TestApp, action: string) =>
  (await ctx.app.ctx.db.selectFrom('audit_event').select('id').where('action', '=', action).execute()).length
const phoneOf = (i: number) => `+447400${String(100_000 + i)}`

test('an admin invites 200 people from one CSV: 200 invitations go out, every link works once, all audited', async (t) => {
  const { ctx, twilio, graph, admin } = await setup(t)
  const lines = ['First name,Last name,Mobile,Email,Department']
  for (let i = 0; i < 200; i++) {
    // Most by text; a quarter have only an email address.
    lines.push(
      i < 150 ? `Person,Number${i},${phoneOf(i)},,Sales` : `Person,Number${i},,p${i}@example.org,Ops`,
    )
  }
  const imported = await postImport(admin, { csv: lines.join('\n'), sendBy: 'phone', action: 'send' })
  assert.equal(imported.statusCode, 303, imported.body.slice(0, 2000))
  assert.match((await admin.follow(imported)).body, /Sending 200 invitations: 150 by text, 50 by email/)

  await eventually(
    async () => (await invitations(ctx)).every((i) => i.status === 'sent'),
    'every invitation to be sent',
  )
  assert.equal(twilio.messages.length, 150)
  assert.equal(graph.mails.filter((m) => m.subject.startsWith('Your invitation')).length, 50)
  const rows = await invitations(ctx)
  assert.ok(
    rows.every((r) => r.token_hash !== null && !r.token_hash.includes(linkIn(twilio.messages[0]!.body))),
  )

  const links = [
    ...Array.from({ length: 150 }, (_, i) => linkIn(twilio.lastTo(phoneOf(i))!.body)),
    ...Array.from({ length: 50 }, (_, i) => linkIn(graph.lastTo(`p${150 + i}@example.org`)!.content)),
  ]
  assert.equal(new Set(links).size, 200)
  for (const [i, token] of links.entries()) {
    const phone = new TestBrowser(ctx.app, `198.51.100.${i % 200}`)
    const landing = await phone.get(`/invite/${token}`)
    assert.equal(landing.statusCode, 200)
    assert.match(landing.body, new RegExp(`Person Number${i}`))
    const used = await phone.post(`/invite/${token}`)
    assert.equal(used.statusCode, 303, used.body.slice(0, 500))
    assert.ok(phone.cookies.has(DEVICE_COOKIE), 'the device is recognised, no code needed')
    const home = await phone.follow(used)
    assert.match(home.body, /Welcome, Person/)
    // The same link again, from another phone or this one: refused with a page saying why.
    const replay = await new TestBrowser(ctx.app).get(`/invite/${token}`)
    assert.equal(replay.statusCode, 410)
    assert.match(replay.body, /already been used/)
  }
  // The contacts the links went to are verified contacts of 200 new people now.
  const contacts = await ctx.app.ctx.db.selectFrom('contact').select(['value', 'person_id']).execute()
  assert.equal(contacts.length, 201)
  assert.ok(contacts.some((c) => c.value === phoneOf(7)))
  assert.equal(await auditCount(ctx, 'invitation.created'), 200)
  assert.equal(await auditCount(ctx, 'invitation.sent'), 200)
  assert.equal(await auditCount(ctx, 'invitation.used'), 200)
  assert.ok((await invitations(ctx)).every((i) => i.status === 'used' && i.person_id !== null))
})

test('a list with problems is reported line by line and nothing is imported or sent', async (t) => {
  const { ctx, twilio, graph, admin } = await setup(t)
  await makePerson(ctx.app.ctx.db, { firstName: 'Olga', lastName: 'Owner', email: 'olga@example.org' })
  const before = graph.mails.length
  const csv = [
    'name;phone;email',
    'Ann Able;07400 100001;',
    ';07400 100002;', // no name
    'Ben Bad;12345;', // bad phone
    'Cat Copy;07400 100001;', // duplicate of line 2
    'Dan Other;;olga@example.org', // belongs to someone else
    'Eve Landline;020 7946 0000;', // a landline
    'Fay Satellite;+881 6 3212 3456;', // no country: refused like a code would be
    'Gil None;;', // no contact at all
    'Hal Good;;hal@example.org',
  ].join('\n')
  const refused = await postImport(admin, { csv, action: 'send' })
  assert.equal(refused.statusCode, 422)
  const page = refused.body
  assert.match(page, /7 of 9 lines need fixing — nothing was sent/)
  assert.match(page, /Missing first name/)
  assert.match(page, /Bad phone number “12345”/)
  assert.match(page, /Duplicate: line 2 has the same phone number/)
  assert.match(page, /already belongs to someone else: Olga Owner/)
  assert.match(page, /landline/)
  assert.match(page, /We cannot text \+881/)
  assert.match(page, /No phone number or email address/)
  assert.match(page, /Dan Other;;olga@example\.org/, 'the list stays in the form')
  assert.equal((await invitations(ctx)).length, 0)
  assert.equal(await auditCount(ctx, 'invitation.created'), 0)
  assert.equal(twilio.messages.length, 0)
  assert.equal(graph.mails.length, before)

  // A CSV that cannot be read at all; an unclosed quote says where.
  const broken = await postImport(admin, {
    csv: 'first name,last name,email\n"Ann,Able,ann@example.org',
    action: 'send',
  })
  assert.equal(broken.statusCode, 422)
  assert.match(broken.body, /quotation mark is opened and never closed/)
  // Checking a good list saves nothing either.
  const checked = await postImport(admin, {
    csv: 'Ann Able,ann@example.org\nBob Best,07400 100009',
    action: 'check',
  })
  assert.equal(checked.statusCode, 200)
  assert.match(checked.body, /All 2 lines are ready: 1 by text, 1 by email/)
  assert.equal((await invitations(ctx)).length, 0)
})

test('someone already registered is matched by their verified contact, not duplicated', async (t) => {
  const { ctx, twilio, admin } = await setup(t)
  const olga = await makePerson(ctx.app.ctx.db, {
    firstName: 'Olga',
    lastName: 'Owner',
    email: 'olga@example.org',
  })
  const people = async () => (await ctx.app.ctx.db.selectFrom('person').select('id').execute()).length
  const before = await people()
  const imported = await postImport(admin, {
    csv: 'first name,last name,phone,email\nolga,OWNER,07400 100050,olga@example.org',
    action: 'send',
  })
  assert.equal(imported.statusCode, 303, imported.body.slice(0, 1500))
  await eventually(() => twilio.messages.length === 1, 'the text')
  const [invitation] = await invitations(ctx)
  assert.equal(invitation!.person_id, olga)
  const phone = new TestBrowser(ctx.app)
  await phone.get(`/invite/${linkIn(twilio.messages[0]!.body)}`)
  const used = await phone.post(`/invite/${linkIn(twilio.messages[0]!.body)}`)
  assert.equal(used.statusCode, 303)
  assert.match((await phone.follow(used)).body, /Welcome back, Olga/)
  assert.equal(await people(), before, 'nobody new')
  const contacts = await ctx.app.ctx.db
    .selectFrom('contact')
    .select('value')
    .where('person_id', '=', olga)
    .execute()
  assert.deepEqual(contacts.map((c) => c.value).sort(), ['+447400100050', 'olga@example.org'])
})

test('a revoked or expired link is refused with a page saying why; an unknown one is a 404', async (t) => {
  const { ctx, twilio, admin } = await setup(t, { INVITATION_DAYS: '3' })
  await postImport(admin, { csv: 'Ann Able,07400 100001\nBob Best,07400 100002', action: 'send' })
  // The texts reach Twilio a moment before the sender records them as sent.
  await eventually(
    async () => (await invitations(ctx)).every((i) => i.status === 'sent'),
    'both invitations recorded as sent',
  )
  const [ann, bob] = await invitations(ctx)
  const annLink = linkIn(twilio.lastTo('+447400100001')!.body)
  const bobLink = linkIn(twilio.lastTo('+447400100002')!.body)

  await admin.get('/admin/invitations')
  const revoked = await admin.post(`/admin/invitations/${ann!.id}/revoke`)
  assert.equal(revoked.statusCode, 303)
  assert.match((await admin.follow(revoked)).body, /The invitation of Ann Able no longer works/)
  const phone = new TestBrowser(ctx.app)
  const annPage = await phone.get(`/invite/${annLink}`)
  assert.equal(annPage.statusCode, 410)
  assert.match(annPage.body, /withdrawn by an administrator/)
  assert.match(annPage.body, /Sign in with a code/)

  // Bob opens his page in time but taps after it expired.
  assert.equal((await phone.get(`/invite/${bobLink}`)).statusCode, 200)
  ctx.clock.advance(3 * 24 * 60 * 60_000)
  const late = await phone.post(`/invite/${bobLink}`)
  assert.equal(late.statusCode, 410)
  assert.match(late.body, /This invitation has expired/)
  assert.ok(!phone.cookies.has(DEVICE_COOKIE))
  assert.equal((await invitations(ctx)).find((i) => i.id === bob!.id)!.status, 'sent')

  const unknown = await phone.get(`/invite/${'x'.repeat(43)}`)
  assert.equal(unknown.statusCode, 404)
  assert.match(unknown.body, /This invitation link is not valid/)
  assert.equal(await auditCount(ctx, 'invitation.revoked'), 1)
  assert.equal(await auditCount(ctx, 'invitation.used'), 0)
})

test('only admins invite: others get 403; a form without its CSRF token is refused; nothing saved', async (t) => {
  const { ctx, graph, admin } = await setup(t)
  const staff = await signIn(ctx, graph, 'sam@example.org', ['Sam', 'Staff'])
  const desk = await signIn(ctx, graph, 'rita@example.org', ['Rita', 'Desk'])
  await giveRole(ctx, 'rita@example.org', 'reception')
  for (const browser of [staff, desk]) {
    assert.equal((await browser.get('/admin/invitations')).statusCode, 403)
    await browser.get('/')
    const posted = await browser.post('/admin/invitations', {
      csv: 'Ann Able,ann@example.org',
      action: 'send',
    })
    assert.equal(posted.statusCode, 403)
  }
  const noToken = await postImport(
    admin,
    { csv: 'Ann Able,ann@example.org', action: 'send' },
    undefined,
    false,
  )
  assert.equal(noToken.statusCode, 403)
  assert.equal((await invitations(ctx)).length, 0)
})

test('a CSV file can be uploaded; one too large is refused with a clear 413', async (t) => {
  const { ctx, graph, admin } = await setup(t)
  const uploaded = await postImport(
    admin,
    { action: 'send', sendBy: 'email' },
    { name: 'staff.csv', content: '\uFEFFFirst name,Surname,E-mail\r\nZoë,Ünal,zoe@example.org\r\n' },
  )
  assert.equal(uploaded.statusCode, 303, uploaded.body.slice(0, 1500))
  await eventually(() => graph.lastTo('zoe@example.org') !== undefined, 'the email')
  assert.match(graph.lastTo('zoe@example.org')!.content, /Hello Zoë/)

  const huge = await postImport(
    admin,
    { action: 'send' },
    { name: 'big.csv', content: 'A B,a@example.org\n'.repeat(20_000) },
  )
  assert.equal(huge.statusCode, 413)
  assert.match(huge.body, /That list is too large: at most 256 KB/)
  const binary = await postImport(
    admin,
    { action: 'send' },
    { name: 'sheet.xlsx', content: Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0]) },
  )
  assert.equal(binary.statusCode, 422)
  assert.match(binary.body, /save the sheet as “CSV UTF-8”/)
  assert.equal((await invitations(ctx)).length, 1)
})

test('invitations by text have their own daily ceiling: an import beyond it is refused whole', async (t) => {
  const { ctx, twilio, admin } = await setup(t, { INVITATION_TEXTS_PER_DAY: '3' })
  const refused = await postImport(admin, {
    csv: [
      'Ann Able,07400 100001',
      'Bob Best,07400 100002',
      'Cy Coe,07400 100003',
      'Di Dee,07400 100004',
    ].join('\n'),
    action: 'send',
  })
  assert.equal(refused.statusCode, 429)
  assert.match(refused.body, /would text 4 numbers, but the site texts at most 3 invitations in 24 hours/)
  assert.equal((await invitations(ctx)).length, 0)
  // By email instead where there is an address, or a smaller list: fine.
  const fits = await postImport(admin, {
    csv: 'Ann Able,07400 100001\nBob Best,07400 100002,bob@example.org',
    action: 'send',
    sendBy: 'email',
  })
  assert.equal(fits.statusCode, 303)
  await eventually(() => twilio.messages.length === 1, 'one text')
})

test('the invited person’s data export holds the invitation, and erasing them removes it', async (t) => {
  const { ctx, graph, admin } = await setup(t)
  await postImport(admin, { csv: 'Ann Able,ann@example.org', action: 'send' })
  await eventually(() => graph.lastTo('ann@example.org') !== undefined, 'the email')
  const phone = new TestBrowser(ctx.app)
  const token = linkIn(graph.lastTo('ann@example.org')!.content)
  await phone.get(`/invite/${token}`)
  await phone.post(`/invite/${token}`)
  const data = (await phone.get('/profile/export.json')).json()
  assert.equal(data.invitation.length, 1)
  assert.equal(data.invitation[0].contact_value, 'ann@example.org')
  assert.ok(!('token_hash' in data.invitation[0]), 'the token hash is never shown')

  const [invitation] = await invitations(ctx)
  await admin.get(`/admin/people/${invitation!.person_id}/erase`)
  assert.equal((await admin.post(`/admin/people/${invitation!.person_id}/erase`)).statusCode, 303)
  assert.equal((await invitations(ctx)).length, 0)
})

test('the import form sent twice (a double click, a resend) imports and sends once, and the copy answers as the first did', async (t) => {
  const { ctx, twilio, admin } = await setup(t)
  const csv = ['first name,last name,phone', ...[1, 2, 3].map((i) => `P${i},Twice,${phoneOf(i)}`)].join('\n')

  // The browser resends after the first answer (a reload of the POST, a second Enter).
  await admin.get('/admin/invitations')
  const first = await sendImportForm(admin, { csv, sendBy: 'phone', action: 'send' })
  assert.equal(first.statusCode, 303, first.body)
  const again = await sendImportForm(admin, { csv, sendBy: 'phone', action: 'send' })
  assert.equal(again.statusCode, 303, 'the resend is answered as the first was, not with "Duplicate" errors')
  assert.equal(again.headers.location, first.headers.location)
  assert.equal((await invitations(ctx)).length, 3)

  // A double click of the next import: both copies on their way at once.
  const next = ['first name,last name,phone', ...[4, 5].map((i) => `P${i},Twice,${phoneOf(i)}`)].join('\n')
  await admin.get('/admin/invitations')
  const both = await Promise.all([
    sendImportForm(admin, { csv: next, sendBy: 'phone', action: 'send' }),
    sendImportForm(admin, { csv: next, sendBy: 'phone', action: 'send' }),
  ])
  assert.deepEqual(
    both.map((r) => r.statusCode),
    [303, 303],
  )
  assert.equal((await invitations(ctx)).length, 5, 'five invitations, not seven')
  await eventually(
    () => twilio.messages.length === 5,
    () => `five texts (${twilio.messages.length})`,
  )
  assert.deepEqual(new Set(twilio.messages.map((m) => m.to)).size, 5, 'each number texted once')
})

test('an import sent while another admin’s import is being saved is refused at once with 409 and the form again, the list kept; sent again, it goes through (PostgreSQL)', {
  skip:
    testDialect !== 'postgres' &&
    'SQLite has one writer: a second import waits for the first (TEST_DATABASE=postgres)',
}, async (t) => {
  const { ctx, twilio, admin } = await setup(t)
  // Another web process (a pool of its own on the same database) is saving an import: it holds
  // the import lock until the test lets it commit.
  const other = otherProcess(t, ctx)
  const otherAdmin = await makePerson(other, { firstName: 'Al', lastName: 'Other', email: 'al@example.org' })
  const saved = latch()
  const commit = latch()
  const first = unitOfWork(other, async (trx) => {
    await importInvitations(
      { ...invitationDepsOf(ctx.app.ctx), db: trx },
      { personId: otherAdmin, at: ctx.clock.now(), context: { ip: '203.0.113.1', userAgent: 'test' } },
      { csv: 'Ann Able,07400 100001', sendBy: 'phone' },
    )
    saved.open()
    await commit.reached
  })
  t.after(() => commit.open())
  await saved.reached

  const csv = 'first name,last name,phone\nBob,Best,07400 100002\nCy,Coe,07400 100003'
  const busy = await postImport(
    admin,
    { action: 'send', sendBy: 'phone' },
    { name: 'staff.csv', content: csv },
  )
  commit.open()
  await first
  assert.equal(busy.statusCode, 409, busy.body.slice(0, 1500))
  assert.match(
    busy.body,
    /<p class="error" id="csv-error" role="alert">Another import is running; try again in a moment\./,
  )
  assert.match(
    busy.body,
    /Bob,Best,07400 100002\nCy,Coe,07400 100003<\/textarea>/,
    'the file’s rows are kept',
  )
  assert.deepEqual(
    (await invitations(ctx)).map((i) => i.contact_value),
    ['+447400100001'],
    'only the other import is saved',
  )

  // The form as re-rendered (a fresh key, the rows in the text box), sent again.
  const again = await sendImportForm(admin, { csv, action: 'send', sendBy: 'phone' })
  assert.equal(again.statusCode, 303, again.body.slice(0, 1500))
  assert.equal((await invitations(ctx)).length, 3)
  await eventually(
    () => twilio.messages.length === 3,
    () => `three texts, the other import's and this one's (${twilio.messages.length})`,
  )
})
