import assert from 'node:assert/strict'
import { test } from 'node:test'
import { purge } from '../../../tasks/purge.task.js'
import { buildTestApp, type TestApp } from '../../testing/build-test-app.js'
import { FakeGraph } from '../../testing/fake-graph.js'
import { FakeTwilio } from '../../testing/fake-twilio.js'
import { kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { deskReceptionist, eventually, personWithRole } from '../../testing/reception.js'

const linkIn = (text: string) =>
  /http:\/\/register\.test\/i\/([A-Za-z0-9_-]{43})/.exec(text)?.[1] ?? assert.fail(`no link in ${text}`)
const codeIn = (text: string) =>
  /code[^A-Z]*([A-Z2-9]{4}-[A-Z2-9]{4})/.exec(text)?.[1] ?? assert.fail(`no code in ${text}`)

/** The app with texts through the fake Twilio and emails through the fake Graph; people log in by email. */
async function withProviders(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const twilio = await FakeTwilio.start(t)
  const graph = await FakeGraph.start(t)
  const built = await buildTestApp(t, {
    env: { ...twilio.env(), ...graph.env(), ...env },
    channelsFromConfig: true,
    // Host notices go out from the outbox: the in-process scheduler sends them here (the worker with Redis).
    embeddedJobs: true,
  })
  // Login codes arrive by email through Graph: read them there, as a person reads their inbox.
  const ctx: TestApp = {
    ...built,
    lastCode: (contact: string) =>
      />(\d{6})<\/p>/.exec(graph.lastTo(contact)?.content ?? '')?.[1] ?? assert.fail(`no code to ${contact}`),
  }
  const host = await personWithRole(ctx, 'zoe.host@example.org', { firstName: 'Zoë', lastName: 'Hôst' })
  await host.browser.get('/visitors')
  return { ctx, twilio, graph, host }
}

test('pre-registered by email through Graph: link, QR code and kiosk code in the invitation; the link checks in once, on the day only, tells the host, and puts the visitor on the fire list and roll call', async (t) => {
  const { ctx, graph, host } = await withProviders(t)
  const { db } = ctx.app.ctx
  const anon = () => ({ inject: (method: 'GET' | 'POST', url: string) => ctx.app.inject({ method, url }) })
  const invited = await host.browser.post('/visitors', {
    name: ' Vera  Visitor ',
    company: 'Acme Ltd',
    day: '2026-11-24',
    time: '10:30',
    contact: 'Vera@Example.com',
  })
  assert.equal(invited.statusCode, 303, invited.body)
  assert.match(
    (await host.browser.follow(invited)).body,
    /Vera Visitor is expected on Tuesday, 24 November 2026/,
  )
  const mail = graph.lastTo('vera@example.com') ?? assert.fail('no invitation mail')
  assert.match(mail.subject, /Your visit to .* on Tuesday, 24 November 2026/)
  assert.match(mail.content, /Zoë Hôst<\/strong> expects you/)
  assert.match(mail.content, /at <strong>10:30<\/strong>/)
  const token = linkIn(mail.content)
  assert.match(mail.content, new RegExp(`<img src="http://register\\.test/i/${token}/qr\\.png"`))
  codeIn(mail.content)
  // Stored hashed: the token itself is nowhere in the database.
  const stored = await db.selectFrom('visitor_invitation').selectAll().executeTakeFirstOrThrow()
  assert.doesNotMatch(JSON.stringify(stored), new RegExp(token))
  assert.notEqual(stored.sent_at, null)
  const qr = await anon().inject('GET', `/i/${token}/qr.png`)
  assert.equal(qr.statusCode, 200)
  assert.equal(qr.headers['content-type'], 'image/png')
  const audit = await db
    .selectFrom('audit_event')
    .select(['action', 'person_id', 'detail'])
    .where('action', 'like', 'visitor.%')
    .execute()
  assert.deepEqual(
    audit.map((a) => [a.action, a.person_id]),
    [
      ['visitor.pre-registered', host.id],
      ['visitor.invitation-sent', host.id],
    ],
  )
  assert.doesNotMatch(JSON.stringify(audit), /Vera|example\.com/, 'ids only in the audit trail')

  // The day before: the page shows the invitation and its QR code, and refuses to check in.
  const early = await anon().inject('GET', `/i/${token}`)
  assert.equal(early.statusCode, 200)
  assert.match(early.body, /expects you on <strong>Tuesday, 24 November 2026<\/strong> at <strong>10:30/)
  assert.doesNotMatch(early.body, /I have arrived<\/button>/)
  const tooEarly = await anon().inject('POST', `/i/${token}`)
  assert.equal(tooEarly.statusCode, 403)
  assert.match(tooEarly.headers['content-type'] as string, /text\/html/)
  assert.match(tooEarly.body, /works on that day only/)
  const row = () => db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal((await row()).signed_in_at, null)

  // On the day (in the site's time zone): one tap, once.
  ctx.clock.set('2026-11-24T10:20:00Z')
  const today = await anon().inject('GET', `/i/${token}`)
  assert.match(today.body, /I have arrived<\/button>/)
  assert.equal((await row()).signed_in_at, null, 'opening the link changes nothing')
  const arrived = await anon().inject('POST', `/i/${token}`)
  assert.equal(arrived.statusCode, 200)
  assert.match(arrived.body, /Welcome, Vera Visitor\. You signed in at 10:20/)
  assert.equal((await row()).signed_in_at, ctx.clock.now())
  assert.equal((await row()).signed_in_via, 'invite')
  const replayed = await anon().inject('POST', `/i/${token}`)
  assert.equal(replayed.statusCode, 409)
  assert.match(replayed.body, /already been used/)
  await eventually(
    async () => graph.lastTo('zoe.host@example.org')?.subject.startsWith('Your visitor has arrived') === true,
    'the host is told',
  )
  // Checked in on her own phone: no entrance to name (neither "reception" nor "undefined").
  assert.match(
    graph.lastTo('zoe.host@example.org')!.content,
    /Vera Visitor \(Acme Ltd\)(<\/strong>)? checked in with their invitation at 10:20 and is on their way/,
  )

  // A foreign token (well formed, unknown) and junk: a human page, nothing changes.
  for (const foreign of ['A'.repeat(43), 'not-a-token']) {
    const refused = await anon().inject('POST', `/i/${foreign}`)
    assert.equal(refused.statusCode, 404)
    assert.match(refused.body, /This invitation link is not valid/)
  }

  // On the fire list and the roll call, with their host.
  const desk = await deskReceptionist(ctx)
  const board = await desk.browser.get('/reception')
  assert.match(board.body, /Vera Visitor/)
  assert.match(board.body, /Zoë Hôst/)
  await desk.browser.get('/reception/roll-calls')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill' })
  const rollCall = await desk.browser.get(String(started.headers.location))
  const visitors = rollCall.body.slice(rollCall.body.indexOf('<h2 id="visitors">'))
  assert.match(visitors, /Vera Visitor/)
  assert.match(visitors, /visiting Zoë Hôst/)
})

test('an invitation whose day has passed is refused with a human page', async (t) => {
  const { ctx, graph, host } = await withProviders(t)
  await host.browser.post('/visitors', {
    name: 'Late Larry',
    day: '2026-11-23',
    contact: 'larry@example.com',
  })
  const token = linkIn(graph.lastTo('larry@example.com')!.content)
  // Just after midnight in London the next day: the day is over.
  ctx.clock.set('2026-11-24T00:05:00Z')
  const late = await ctx.app.inject({ method: 'POST', url: `/i/${token}` })
  assert.equal(late.statusCode, 410)
  assert.match(late.body, /was for Monday, 23 November 2026 and has expired/)
  assert.match((await ctx.app.inject({ method: 'GET', url: `/i/${token}` })).body, /has expired/)
})

test('texted invitations respect the allowed countries and the hourly budget; cancelling kills the link and code; the kiosk checks in by code with a kiosk token only, audited with its name', async (t) => {
  const { ctx, twilio, host } = await withProviders(t, { SMS_CODES_PER_HOUR: '2' })
  const { db } = ctx.app.ctx
  const abroad = await host.browser.post('/visitors', {
    name: 'Fifi Abroad',
    day: '2026-11-23',
    contact: '+33 6 12 34 56 78',
  })
  assert.equal(abroad.statusCode, 422)
  assert.match(abroad.body, /texted only to mobile numbers in the United Kingdom/)
  assert.match(abroad.body, /value="\+33 6 12 34 56 78"/, 'input kept')
  assert.equal(twilio.messages.length, 0)

  const first = await host.browser.post('/visitors', {
    name: 'Tom Text',
    day: '2026-11-23',
    contact: '07400 123456',
  })
  assert.equal(first.statusCode, 303)
  const sms = twilio.lastTo('+447400123456')!.body
  const token = linkIn(sms)
  const code = codeIn(sms)
  const tom = (
    await db.selectFrom('visitor').select('id').where('name', '=', 'Tom Text').executeTakeFirstOrThrow()
  ).id
  await host.browser.get('/visitors')
  assert.equal((await host.browser.post(`/visitors/${tom}/cancel`)).statusCode, 303)
  for (const method of ['GET', 'POST'] as const) {
    const dead = await ctx.app.inject({ method, url: `/i/${token}` })
    assert.equal(dead.statusCode, 410)
    assert.match(dead.body, /This invitation was cancelled by your host/)
    assert.doesNotMatch(dead.body, /Tom Text/)
  }
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'Main entrance')
  const dead = await tablet.api('POST', '/kiosk/api/invitations/find', { code })
  assert.equal(dead.statusCode, 410)
  assert.match(dead.json().error, /cancelled by your host/)

  await host.browser.get('/visitors')
  await host.browser.post('/visitors', {
    name: 'Kim Kiosk',
    company: 'Beta',
    day: '2026-11-23',
    contact: '07400 654321',
  })
  const kimCode = codeIn(twilio.lastTo('+447400654321')!.body)
  // The budget (2 texts an hour, codes and invitations together) is used up: texts pause, email still works.
  await host.browser.get('/visitors')
  const paused = await host.browser.post('/visitors', {
    name: 'Pat Paused',
    day: '2026-11-23',
    contact: '07400 111222',
  })
  assert.equal(paused.statusCode, 422)
  assert.match(paused.body, /Texts are paused/)
  assert.equal(twilio.messages.length, 2)

  // Only a kiosk: no cookie, or a staff session, is refused.
  const path = '/kiosk/api/invitations/check-in'
  const noKiosk = await ctx.app.inject({ method: 'POST', url: path, payload: { code: kimCode } })
  assert.equal(noKiosk.statusCode, 401)
  const staff = await host.browser.request({ method: 'POST', url: path, payload: { code: kimCode } })
  assert.equal(staff.statusCode, 401)
  const wrong = await tablet.api('POST', '/kiosk/api/invitations/find', { code: 'ABCD-EFGH' })
  assert.equal(wrong.statusCode, 404)
  const found = await tablet.api('POST', '/kiosk/api/invitations/find', { code: kimCode.toLowerCase() })
  assert.equal(found.statusCode, 200)
  assert.deepEqual(found.json(), { name: 'Kim Kiosk', company: 'Beta', host: 'Zoë Hôst' })
  const checkedIn = await tablet.api('POST', path, { code: kimCode })
  assert.equal(checkedIn.statusCode, 201)
  assert.match(
    checkedIn.json().message,
    /Welcome, Kim Kiosk\. .* We are letting Zoë Hôst know you are here\./,
  )
  assert.equal((await tablet.api('POST', path, { code: kimCode })).statusCode, 409, 'once only')
  const kim = await db
    .selectFrom('visitor')
    .selectAll()
    .where('name', '=', 'Kim Kiosk')
    .executeTakeFirstOrThrow()
  assert.equal(kim.signed_in_via, 'kiosk')
  assert.ok(kim.kiosk_id)
  const audit = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'visitor.signed-in')
    .executeTakeFirstOrThrow()
  assert.deepEqual(
    (({ visitorId, kiosk, invitation }) => ({ visitorId, kiosk, invitation }))(JSON.parse(audit.detail)),
    { visitorId: kim.id, kiosk: 'Main entrance', invitation: true },
  )
  const cancelledAudit = await db
    .selectFrom('audit_event')
    .select('person_id')
    .where('action', '=', 'visitor.invitation-cancelled')
    .execute()
  assert.deepEqual(cancelledAudit, [{ person_id: host.id }])
})

test('the kiosk checks in by the QR code’s link as read by its camera', async (t) => {
  const ctx = await buildTestApp(t)
  const host = await personWithRole(ctx, 'zoe.host@example.org', { firstName: 'Zoë', lastName: 'Hôst' })
  await host.browser.get('/visitors')
  await host.browser.post('/visitors', { name: 'Quinn QR', day: '2026-11-23', contact: 'quinn@example.com' })
  const sent = ctx.outbox.filter((l) => l.startsWith('message to quinn@example.com ')).join('\n')
  const link = `http://register.test/i/${linkIn(sent)}`
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  assert.equal(
    (await tablet.api('POST', '/kiosk/api/invitations/find', { link: 'https://evil.example/i/xyz' }))
      .statusCode,
    404,
  )
  assert.equal((await tablet.api('POST', '/kiosk/api/invitations/find', { link })).json().name, 'Quinn QR')
  assert.equal((await tablet.api('POST', '/kiosk/api/invitations/check-in', { link })).statusCode, 201)
  // The link itself is used up too.
  assert.equal((await ctx.app.inject({ method: 'POST', url: new URL(link).pathname })).statusCode, 409)
})

test('the host’s form re-renders with a message next to each wrong field and the input kept; hosts change only their own invitations; a new day sends a new link and kills the old one', async (t) => {
  const ctx = await buildTestApp(t)
  const host = await personWithRole(ctx, 'zoe.host@example.org', { firstName: 'Zoë', lastName: 'Hôst' })
  await host.browser.get('/visitors')
  const bad = await host.browser.post('/visitors', {
    name: '   ',
    company: 'Acme <b>',
    day: '2026-11-22',
    time: '25:00',
    contact: 'not a contact',
  })
  assert.equal(bad.statusCode, 422)
  assert.match(bad.body, /id="name-error">Enter the visitor’s full name\./)
  assert.match(bad.body, /id="day-error">That day has passed/)
  assert.match(bad.body, /id="time-error">Give the time as 09:30/)
  assert.match(bad.body, /id="contact-error">/)
  assert.match(bad.body, /value="Acme &lt;b&gt;"/, 'input kept, escaped')
  assert.match(bad.body, /value="2026-11-22"/)
  assert.match(bad.body, /value="not a contact"/)
  assert.equal(await ctx.app.ctx.db.selectFrom('visitor').select('id').executeTakeFirst(), undefined)

  await host.browser.get('/visitors')
  await host.browser.post('/visitors', { name: 'Eve Edit', day: '2026-11-24', contact: 'eve@example.com' })
  const toEve = () => ctx.outbox.filter((l) => l.startsWith('message to eve@example.com '))
  const oldToken = linkIn(toEve()[0]!)
  const id = (await ctx.app.ctx.db.selectFrom('visitor').select('id').executeTakeFirstOrThrow()).id

  const other = await personWithRole(ctx, 'other@example.org', { firstName: 'Oscar', lastName: 'Other' })
  assert.equal((await other.browser.get(`/visitors/${id}/edit`)).statusCode, 404)
  await other.browser.get('/visitors')
  assert.equal((await other.browser.post(`/visitors/${id}/cancel`)).statusCode, 404)
  assert.doesNotMatch((await other.browser.get('/visitors')).body, /Eve Edit/)

  const form = await host.browser.get(`/visitors/${id}/edit`)
  assert.match(form.body, /value="eve@example.com"/)
  const badEdit = await host.browser.post(`/visitors/${id}`, {
    name: 'Eve Edit',
    day: 'soon',
    contact: 'eve@example.com',
  })
  assert.equal(badEdit.statusCode, 422)
  assert.match(badEdit.body, /id="day-error">Pick the day/)
  assert.match(badEdit.body, /value="soon"/)
  const renamed = await host.browser.post(`/visitors/${id}`, {
    name: 'Eve Edited',
    day: '2026-11-24',
    contact: 'eve@example.com',
  })
  assert.equal(renamed.statusCode, 303)
  assert.equal(toEve().length, 1, 'a new name alone sends nothing')
  await host.browser.get(`/visitors/${id}/edit`)
  await host.browser.post(`/visitors/${id}`, {
    name: 'Eve Edited',
    day: '2026-11-23',
    contact: 'eve@example.com',
  })
  assert.equal(toEve().length, 2, 'a new day sends a new invitation')
  const newToken = linkIn(toEve()[1]!)
  assert.equal((await ctx.app.inject({ method: 'POST', url: `/i/${oldToken}` })).statusCode, 404)
  assert.equal((await ctx.app.inject({ method: 'POST', url: `/i/${newToken}` })).statusCode, 200)
  assert.equal((await host.browser.get(`/visitors/${id}/edit`)).statusCode, 409, 'arrived: nothing to change')
})

test('reception sees today’s expected visitors and checks one in with one tap', async (t) => {
  // Host notices go out from the outbox: the in-process scheduler sends them here.
  const ctx = await buildTestApp(t, { embeddedJobs: true })
  const host = await personWithRole(ctx, 'zoe.host@example.org', { firstName: 'Zoë', lastName: 'Hôst' })
  await host.browser.get('/visitors')
  await host.browser.post('/visitors', {
    name: 'Dee Desk',
    company: 'Gamma',
    day: '2026-11-23',
    time: '11:00',
    contact: 'dee@example.com',
  })
  await host.browser.get('/visitors')
  await host.browser.post('/visitors', {
    name: 'Tomorrow Tess',
    day: '2026-11-24',
    contact: 'tess@example.com',
  })
  const desk = await deskReceptionist(ctx)
  assert.match((await desk.browser.get('/reception')).body, /1 expected today/)
  const page = await desk.browser.get('/reception/visitors/new')
  assert.match(page.body, /<strong>Dee Desk<\/strong> <em>expected<\/em> at 11:00/)
  assert.match(page.body, /Gamma · visiting Zoë Hôst/)
  assert.doesNotMatch(page.body, /Tomorrow Tess/)
  const dee = /action="\/reception\/visitors\/(\d+)\/check-in"/.exec(page.body)![1]!
  const tapped = await desk.browser.post(`/reception/visitors/${dee}/check-in`)
  assert.equal(tapped.statusCode, 303)
  const row = await ctx.app.ctx.db
    .selectFrom('visitor')
    .selectAll()
    .where('id', '=', Number(dee))
    .executeTakeFirstOrThrow()
  assert.equal(row.signed_in_via, 'reception')
  assert.match((await desk.browser.get('/reception')).body, /Dee Desk/)
  assert.doesNotMatch(
    (await desk.browser.get('/reception/visitors/new')).body,
    /<strong>Dee Desk<\/strong> <em>expected/,
  )
  await eventually(
    async () =>
      ctx.outbox.some((l) => l.startsWith('message to zoe.host@example.org ') && /Dee Desk/.test(l)),
    'the host is told',
  )
  // Not for plain staff.
  await host.browser.get('/visitors')
  assert.equal((await host.browser.post(`/reception/visitors/${dee}/check-in`)).statusCode, 403)
})

test('retention: a pre-registration never used goes after VISITOR_RETENTION_DAYS, with its invitation and the invitation’s message', async (t) => {
  const ctx = await buildTestApp(t, { env: { VISITOR_RETENTION_DAYS: '30' } })
  const { db } = ctx.app.ctx
  const host = await personWithRole(ctx, 'zoe.host@example.org', { firstName: 'Zoë', lastName: 'Hôst' })
  await host.browser.get('/visitors')
  await host.browser.post('/visitors', { name: 'Gone Gina', day: '2026-11-24', contact: 'gina@example.com' })
  const invitationMessages = () =>
    db.selectFrom('message').select('id').where('purpose', '=', 'visitor-invitation').execute()
  assert.equal((await invitationMessages()).length, 1)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  ctx.clock.advance(20 * 24 * 60 * 60_000)
  await purge(run)
  assert.equal((await db.selectFrom('visitor').select('id').execute()).length, 1, 'kept within the period')
  ctx.clock.advance(12 * 24 * 60 * 60_000)
  await purge(run)
  assert.deepEqual(await db.selectFrom('visitor').select('id').execute(), [])
  assert.deepEqual(await db.selectFrom('visitor_invitation').select('visitor_id').execute(), [])
  assert.deepEqual(await invitationMessages(), [])
  assert.equal(
    (await db.selectFrom('message').select('id').where('purpose', '=', 'login-code').execute()).length,
    1,
    'other messages follow RETENTION_DAYS',
  )
})

test('an invitation that could not be sent is withdrawn, but never a visitor reception checked in meanwhile', async (t) => {
  const { ctx, graph, host } = await withProviders(t)
  const { db } = ctx.app.ctx
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/visitors/new')
  // The mail server fails every try; while the first is in flight, Dee walks in and reception
  // checks her in from the expected list.
  const checkIn = async () => {
    const dee = await db
      .selectFrom('visitor')
      .select('id')
      .where('name', '=', 'Dee Early')
      .executeTakeFirstOrThrow()
    assert.equal((await desk.browser.post(`/reception/visitors/${dee.id}/check-in`)).statusCode, 303)
  }
  // (Every try fails, the host's arrival notice included: more failures than tries.)
  graph.script({ status: 503, meanwhile: checkIn }, ...Array.from({ length: 20 }, () => ({ status: 503 })))
  const invited = await host.browser.post('/visitors', {
    name: 'Dee Early',
    day: '2026-11-23',
    contact: 'dee@example.com',
  })
  assert.match(invited.body, /could not be sent/)
  const row = await db.selectFrom('visitor').selectAll().where('name', '=', 'Dee Early').executeTakeFirst()
  assert.ok(row?.signed_in_at, 'Dee is signed in')
  assert.match((await desk.browser.get('/reception')).body, /Dee Early/, 'and on the fire list')
  // An invitation nobody received, with nobody checked in, is still withdrawn.
  await host.browser.get('/visitors')
  await host.browser.post('/visitors', { name: 'Nora Never', day: '2026-11-24', contact: 'nora@example.com' })
  assert.equal(
    await db.selectFrom('visitor').select('id').where('name', '=', 'Nora Never').executeTakeFirst(),
    undefined,
  )
})
