import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { runScheduledTask } from '../../../tasks/schedules.js'
import { buildTestApp, type TestApp } from '../../testing/build-test-app.js'
import { makePerson } from '../../testing/factories.js'
import { createKioskCode, type KioskTablet, kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { deskReceptionist, eventually, personWithRole } from '../../testing/reception.js'
import { auditedAs } from '../../testing/roll-call.js'
import { visitorLink } from '../../visitors/visitor-links.js'

async function staff(ctx: TestApp) {
  const { db } = ctx.app.ctx
  const zoe = await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: 'zoe.host@example.org' })
  for (const [first, last] of [
    ['Sam', 'Able'],
    ['Sam', 'Baker'],
    ['Sam', 'Cole'],
    ['Sam', 'Dyer'],
    ['Sam', 'Eden'],
    ['Sam', 'Frost'],
  ] as const) {
    await makePerson(db, {
      firstName: first,
      lastName: last,
      email: `${first}.${last}@example.org`.toLowerCase(),
    })
  }
  return { zoe }
}

test('a visitor signs in at the kiosk: host found by 3+ letters ignoring accents and case, at most 5 names, no contacts; notice version kept; audited with the kiosk', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { zoe } = await staff(ctx)
  const admin = await kioskAdmin(ctx)
  await admin.get('/admin/kiosks')
  await admin.post('/admin/site-notice', { text: 'Wear the visitor badge at all times.\nNo photos.' })
  const tablet = await pairedKiosk(ctx, admin, 'Main entrance')
  const notice = (await db.selectFrom('site_notice').select('id').executeTakeFirstOrThrow()).id
  assert.match((await tablet.get('/kiosk')).body, /Wear the visitor badge at all times/)
  await tablet.refresh()

  assert.equal((await tablet.api('GET', '/kiosk/api/hosts?q=zo')).statusCode, 422, 'fewer than 3 letters')
  const found = await tablet.api('GET', '/kiosk/api/hosts?q=ZOE%20ho')
  assert.equal(found.statusCode, 200)
  assert.deepEqual(found.json(), { matches: [{ id: zoe, name: 'Zoë Hôst' }], more: false })
  assert.doesNotMatch(found.body, /@/, 'never a contact')
  const many = (await tablet.api('GET', '/kiosk/api/hosts?q=sam')).json()
  assert.equal(many.matches.length, 5)
  assert.equal(many.more, true)

  // Without accepting the notice: refused, nothing stored.
  const refused = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Vera Visitor',
    company: 'Acme',
    hostId: zoe,
  })
  assert.equal(refused.statusCode, 422)
  assert.match(refused.json().error, /site notice/)
  const bad = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Vera',
    hostId: zoe,
    accept: notice,
    phone: '12',
  })
  assert.equal(bad.statusCode, 422)
  assert.match(bad.json().error, /mobile number/)

  const signedIn = await tablet.api('POST', '/kiosk/api/visitors', {
    name: ' Vera   Visitor ',
    company: 'Acme Ltd',
    hostId: zoe,
    phone: '07400 123456',
    accept: notice,
    key: 'k-1',
  })
  assert.equal(signedIn.statusCode, 201)
  assert.match(
    signedIn.json().message,
    /Welcome, Vera Visitor\. You signed in at 09:\d\d\. We are letting Zoë Hôst know you are here\./,
  )
  const row = await db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(row.name, 'Vera Visitor')
  assert.equal(row.phone, '+447400123456')
  assert.equal(row.notice_id, notice, 'the accepted version is kept with the visit')
  assert.equal(row.signed_in_at, ctx.clock.now())
  const audit = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'visitor.signed-in')
    .executeTakeFirstOrThrow()
  const detail = JSON.parse(audit.detail)
  assert.equal(detail.kiosk, 'Main entrance')
  assert.doesNotMatch(audit.detail, /Vera|7400/, 'no visitor details in the audit trail')

  // The badge: only this kiosk's visitor, with a QR code for signing out.
  const badge = await tablet.get(`/kiosk/badge/${row.id}`)
  assert.equal(badge.statusCode, 200)
  assert.match(badge.body, /Vera Visitor/)
  assert.match(badge.body, /Visiting <strong>Zoë Hôst<\/strong>/)
  assert.match(badge.body, /src="data:image\/svg\+xml;base64,/)
  assert.match(badge.body, /badge-label\.css/)
  assert.match((await tablet.get(`/kiosk/badge/${row.id}?size=a6`)).body, /badge-a6\.css/)
  const other = await pairedKiosk(ctx, admin, 'Side door')
  assert.equal((await other.get(`/kiosk/badge/${row.id}`)).statusCode, 404)

  // Signing out at the kiosk: find the name (3+ letters), tap it.
  ctx.clock.advance(2 * 60 * 60_000)
  const search = await tablet.api('GET', '/kiosk/api/visitors/inside?q=ver')
  assert.deepEqual(search.json(), {
    matches: [{ id: row.id, name: 'Vera Visitor', company: 'Acme Ltd', since: '09:05' }],
    more: false,
  })
  const out = await tablet.api('POST', `/kiosk/api/visitors/${row.id}/sign-out`, {})
  assert.equal(out.statusCode, 200)
  assert.match(out.json().message, /Goodbye, Vera Visitor\. You signed out at 11:\d\d/)
  const again = await tablet.api('POST', `/kiosk/api/visitors/${row.id}/sign-out`, {})
  assert.match(again.json().message, /already signed out/)
  assert.deepEqual((await tablet.api('GET', '/kiosk/api/visitors/inside?q=ver')).json().matches, [])
  const closed = await db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(closed.closed_by, 'visitor')
  assert.equal(closed.signed_out_at, ctx.clock.now())
})

test('a kiosk sign-in sent twice (an offline replay) is applied once, at the time it was made', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const madeAt = ctx.clock.now() - 40 * 60_000
  const body = {
    name: 'Olly Offline',
    company: '',
    hostText: 'zoe host',
    key: '5a1e2f0c-offline',
    at: madeAt - 5_000, // the tablet's clock is 5 s slow: its age decides, not its clock
    sentAt: ctx.clock.now() - 5_000,
  }
  const first = await tablet.api('POST', '/kiosk/api/visitors', body)
  assert.equal(first.statusCode, 201)
  const second = await tablet.api('POST', '/kiosk/api/visitors', body)
  assert.equal(second.statusCode, 200)
  assert.equal(second.json().visitorId, first.json().visitorId)
  const rows = await db.selectFrom('visitor').selectAll().execute()
  assert.equal(rows.length, 1)
  assert.equal(rows[0]!.signed_in_at, madeAt, 'the real time of the sign-in')
  assert.ok(rows[0]!.host_person_id, 'the typed host matched exactly one person')
  // A replay too old is refused with a message, not applied.
  const old = await tablet.api('POST', '/kiosk/api/visitors', {
    ...body,
    key: 'too-old',
    at: ctx.clock.now() - 13 * 60 * 60_000,
    sentAt: ctx.clock.now(),
  })
  assert.equal(old.statusCode, 422)
  assert.match(old.json().error, /more than 12 hours/)
  // Offline for only a few seconds: the typed host still counts (the kiosk could not pick one).
  const brief = await tablet.api('POST', '/kiosk/api/visitors', {
    ...body,
    name: 'Bree Brief',
    key: 'brief',
    at: ctx.clock.now() - 10_000,
    sentAt: ctx.clock.now(),
  })
  assert.equal(brief.statusCode, 201, brief.body)
  // Online (no time of its own), a typed host without a pick is refused: pick from the list.
  const typed = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Nia',
    hostText: 'zoe',
    key: 'online',
  })
  assert.equal(typed.statusCode, 422)
})

test('a sign-in the kiosk saved offline is never lost for a detail it could not check: host deactivated meanwhile, bad phone or email, a site notice added since', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { zoe } = await staff(ctx)
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin, 'Main entrance')
  // Offline at 09:00: the visitor picked Zoë (from the list loaded earlier), typed a short phone
  // number and a broken email, and was told the sign-in is saved. Before the network is back, Zoë
  // leaves the organisation and a site notice is added.
  const madeAt = ctx.clock.now() - 30 * 60_000
  await db.updateTable('person').set({ deactivated_at: ctx.clock.now() }).where('id', '=', zoe).execute()
  await admin.get('/admin/kiosks')
  await admin.post('/admin/site-notice', { text: 'Wear the visitor badge at all times.' })
  const replay = {
    name: 'Otto Offline',
    company: 'Acme',
    hostId: zoe,
    phone: '0791',
    email: 'otto@',
    action: 'visitor-sign-in',
    key: 'offline-otto',
    at: madeAt,
    sentAt: ctx.clock.now(),
  }
  const sent = await tablet.api('POST', '/kiosk/api/visitors', replay)
  assert.equal(sent.statusCode, 201, sent.body)
  const list = (await (await deskReceptionist(ctx)).browser.get('/reception')).body
  assert.match(list, /Otto Offline/, 'Otto is on the fire list')
  const row = await db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(row.signed_in_at, madeAt, 'at the time the kiosk saw him')
  assert.equal(row.host_person_id, null, 'no one who left the organisation is told about him')
  assert.equal(row.host_text, 'Zoë Hôst', 'reception reads whom he came to see')
  assert.deepEqual([row.phone, row.email, row.notice_id], [null, null, null], 'what could not be used')
  const audit = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'visitor.signed-in')
    .executeTakeFirstOrThrow()
  assert.deepEqual(JSON.parse(audit.detail!).setAside, ['host', 'phone', 'email', 'accept'])

  // Signed in live, the same details are refused, so the visitor at the kiosk corrects them.
  const live = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Lina Live',
    hostId: zoe,
    key: 'live-lina',
    at: ctx.clock.now(),
    sentAt: ctx.clock.now(),
  })
  assert.equal(live.statusCode, 422)
})

test('a sign-in the kiosk saved offline that is over the request’s length limits is signed in with its free text cut to fit; what cannot be cut is left out and named', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const madeAt = ctx.clock.now() - 20 * 60_000
  // Saved by an older kiosk page, or pasted past the form's limits: every field longer than the
  // request allows, the photo larger than a request may be.
  const saved = {
    name: `Longname ${'Ł'.repeat(300)}`,
    company: 'C'.repeat(400),
    hostText: `zoe host ${'x'.repeat(300)}`,
    phone: '0'.repeat(150),
    email: `${'e'.repeat(400)}@example.org`,
    photo: `data:image/jpeg;base64,${'A'.repeat(70_000)}`,
    action: 'visitor-sign-in',
    key: 'offline-long',
    at: madeAt,
    sentAt: ctx.clock.now(),
  }
  const sent = await tablet.api('POST', '/kiosk/api/visitors', saved)
  assert.equal(sent.statusCode, 201, sent.body)
  const row = await db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(row.signed_in_at, madeAt)
  assert.equal(row.name, `Longname ${'Ł'.repeat(91)}`, 'the name cut to the register’s 100 characters')
  assert.equal(row.company, 'C'.repeat(100))
  assert.equal(row.host_text?.length, 100, 'the host as typed, cut')
  assert.deepEqual([row.phone, row.email, row.photo], [null, null, null], 'never a cut phone, email or photo')
  const audit = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'visitor.signed-in')
    .executeTakeFirstOrThrow()
  assert.deepEqual(JSON.parse(audit.detail).setAside.sort(), [
    'company',
    'email',
    'host',
    'name',
    'phone',
    'photo',
  ])

  // Sent live, the same request is still refused: the visitor is there to correct it.
  const live = await tablet.api('POST', '/kiosk/api/visitors', { name: 'L'.repeat(250), hostText: 'zoe' })
  assert.equal(live.statusCode, 400)
  assert.match(live.json().error, /“name” is too long/)
})

test('a sign-in the kiosk saved offline that the server still refuses (older than 12 hours, or a request it cannot read) is audited and put on reception’s board, never dropped unseen', async (t) => {
  const ctx = await buildTestApp(t)
  const { db, live } = ctx.app.ctx
  await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'North door')
  const desk = (await deskReceptionist(ctx)).browser
  const heard: { topic: string; id: number }[] = []
  live.on('change', (change) => heard.push(change))
  const refusedRows = () =>
    db
      .selectFrom('audit_event')
      .selectAll()
      .where('action', '=', 'visitor.saved-sign-in-refused')
      .orderBy('id')
      .execute()

  // Made at 19:05 yesterday, sent at 09:05 today: 14 hours.
  const madeAt = ctx.clock.now() - 14 * 60 * 60_000
  const old = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Otto Overnight',
    hostText: 'zoe host',
    action: 'visitor-sign-in',
    key: 'offline-old',
    at: madeAt,
    sentAt: ctx.clock.now(),
  })
  assert.equal(old.statusCode, 422)
  assert.match(old.json().error, /more than 12 hours/)
  assert.match(old.json().error, /not put on the fire list/)
  assert.equal((await db.selectFrom('visitor').selectAll().execute()).length, 0)
  const [row] = await refusedRows()
  assert.ok(row, 'the refusal is audited')
  const detail = JSON.parse(row.detail)
  assert.equal(detail.kiosk, 'North door')
  assert.equal(detail.madeAt, madeAt)
  assert.equal(detail.status, 422)
  assert.match(detail.reason, /more than 12 hours/)
  assert.doesNotMatch(row.detail, /Otto/, 'audit rows never hold a visitor’s name')
  assert.deepEqual(heard, [{ topic: 'kiosk', id: detail.kioskId }], 'reception’s boards are told at once')
  const board = (await desk.get('/reception')).body
  assert.match(board, /data-live="[^"]*\bkiosk\b/, 'the board listens for it')
  assert.match(board, /saved-sign-ins-refused/)
  assert.match(board, /North door[\s\S]{0,300}19:05/, 'which kiosk, and when the visitor signed in there')
  assert.match(board, /more than 12 hours/)

  // Refused by the request's schema (a key no kiosk makes): audited and shown the same way.
  const unreadable = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Ursula Unread',
    hostText: 'zoe host',
    action: 'visitor-sign-in',
    key: 'k'.repeat(101),
    at: ctx.clock.now() - 60_000,
    sentAt: ctx.clock.now(),
  })
  assert.equal(unreadable.statusCode, 400)
  assert.equal((await refusedRows()).length, 2)
  assert.equal(JSON.parse((await refusedRows())[1]!.detail).status, 400)

  // Refusals the visitor sees at the kiosk, and answers the queue keeps the copy for, are not.
  const online = await tablet.api('POST', '/kiosk/api/visitors', { name: 'Nia Online', key: 'live-nia' })
  assert.equal(online.statusCode, 422)
  const staleToken = await tablet.request({
    method: 'POST',
    url: '/kiosk/api/visitors',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({
      name: 'Tess Token',
      hostText: 'zoe',
      action: 'visitor-sign-in',
      key: 'k3',
      at: 1,
      _csrf: 'stale',
    }),
  })
  assert.equal(staleToken.statusCode, 403)
  assert.equal((await refusedRows()).length, 2)

  // A day later the board no longer lists them (the audit trail keeps them).
  ctx.clock.advance(25 * 60 * 60_000)
  assert.doesNotMatch((await desk.get('/reception')).body, /saved-sign-ins-refused/)
})

test('a sign-in saved on a tablet under an earlier pairing is sent as the new kiosk’s own, once: one whose first try reached the register under the old kiosk is not signed in again; audited with the kiosk that saved it', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  await staff(ctx)
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin, 'North door')
  const kioskId = async (name: string) =>
    (await db.selectFrom('kiosk').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id
  const north = await kioskId('North door')
  const visitors = () => db.selectFrom('visitor').selectAll().orderBy('id').execute()

  // 09:05 at the North door: Lena's sign-in reaches the register, its answer is lost, and the tablet
  // keeps a copy; a minute later Wanda's is saved with no network at all.
  const lenaAt = ctx.clock.now()
  const lena = { name: 'Lena Lostanswer', hostText: 'zoe host', key: '7f7c1c1e-lena' }
  const first = await tablet.api('POST', '/kiosk/api/visitors', { ...lena, at: lenaAt, sentAt: lenaAt })
  assert.equal(first.statusCode, 201)
  const wandaAt = lenaAt + 60_000

  // The North door is unpaired before the tablet sends them; the tablet is paired as the Side door.
  ctx.clock.advance(10 * 60_000)
  await admin.get('/admin/kiosks')
  assert.equal((await admin.post(`/admin/kiosks/${north}/unpair`)).statusCode, 303)
  assert.match((await tablet.get('/kiosk')).body, /Pair this tablet/)
  assert.equal((await tablet.pair(await createKioskCode(admin, 'Side door'))).statusCode, 303)
  const side = await kioskId('Side door')

  // What it kept goes as the Side door's, naming the kiosk it was saved under.
  const saved = { action: 'visitor-sign-in', savedUnder: [north], sentAt: ctx.clock.now() }
  const again = await tablet.api('POST', '/kiosk/api/visitors', { ...lena, ...saved, at: lenaAt })
  assert.equal(again.statusCode, 200, again.body)
  assert.equal(again.json().visitorId, first.json().visitorId, 'the sign-in that arrived the first time')
  assert.equal(again.json().badge, undefined, 'no badge of another kiosk’s visitor')
  assert.doesNotMatch(again.body, /Zoë/, 'nor whom they came to see')
  const wanda = { name: 'Wanda Waiting', hostText: 'zoe host', key: '0b9e4d2a-wanda', at: wandaAt }
  const sent = await tablet.api('POST', '/kiosk/api/visitors', { ...wanda, ...saved })
  assert.equal(sent.statusCode, 201, sent.body)
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', { ...wanda, ...saved })).statusCode, 200)
  const rows = await visitors()
  assert.deepEqual(
    rows.map((r) => [r.name, r.kiosk_id, Number(r.signed_in_at)]),
    [
      ['Lena Lostanswer', north, lenaAt],
      ['Wanda Waiting', side, wandaAt],
    ],
    'each visitor once, at the time they signed in',
  )
  const audits = await auditedAs(ctx, 'visitor.signed-in')
  assert.equal(audits.length, 2)
  const detail = audits[1]
  assert.equal(detail.kiosk, 'Side door')
  assert.equal(detail.savedByKioskId, north)
  assert.equal(detail.savedByKiosk, 'North door', 'which kiosk saved it')
  assert.doesNotMatch(JSON.stringify(detail), /Wanda/)

  // One saved under the old pairing that the register refuses says so too.
  const old = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Otto Overnight',
    hostText: 'zoe host',
    key: '5d0c-otto',
    ...saved,
    at: ctx.clock.now() - 13 * 60 * 60_000,
  })
  assert.equal(old.statusCode, 422)
  const [refused] = await auditedAs(ctx, 'visitor.saved-sign-in-refused')
  assert.deepEqual([refused.kiosk, refused.savedByKiosk], ['Side door', 'North door'])

  // A key is found only under a kiosk the copy names: a made-up one finds nothing to learn.
  const made = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Mo Madeup',
    hostText: 'zoe host',
    key: 'not-a-key-anyone-used',
    ...saved,
    at: ctx.clock.now() - 60_000,
  })
  assert.equal(made.statusCode, 201)
  assert.equal((await visitors()).length, 3)
})

test('a saved copy that reaches the register more than 12 hours late, whose first try did sign the visitor in (its answer lost), is that sign-in, not refused: on the same kiosk or after re-pairing', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  await staff(ctx)
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin, 'North door')
  const north = (
    await db.selectFrom('kiosk').select('id').where('name', '=', 'North door').executeTakeFirstOrThrow()
  ).id
  // 09:05: both sign-ins reach the register, and both answers are lost; the tablet keeps copies.
  const at = ctx.clock.now()
  const lena = { name: 'Lena Lostanswer', hostText: 'zoe host', key: '7f7c1c1e-lena', at, sentAt: at }
  const omar = { name: 'Omar Onekiosk', hostText: 'zoe host', key: '3a51b0c2-omar', at, sentAt: at }
  for (const copy of [lena, omar]) {
    assert.equal((await tablet.api('POST', '/kiosk/api/visitors', copy)).statusCode, 201)
  }
  const signedIn = await db.selectFrom('visitor').select(['id', 'name']).orderBy('id').execute()

  // The tablet gets the network back only the next morning, 13 hours on.
  ctx.clock.advance(13 * 60 * 60_000)
  const saved = { action: 'visitor-sign-in', sentAt: ctx.clock.now() }
  const same = await tablet.api('POST', '/kiosk/api/visitors', { ...omar, ...saved })
  assert.equal(same.statusCode, 200, same.body)
  assert.equal(same.json().visitorId, signedIn[1]!.id)
  await admin.get('/admin/kiosks')
  assert.equal((await admin.post(`/admin/kiosks/${north}/unpair`)).statusCode, 303)
  assert.equal((await tablet.pair(await createKioskCode(admin, 'Side door'))).statusCode, 303)
  const adopted = await tablet.api('POST', '/kiosk/api/visitors', { ...lena, ...saved, savedUnder: [north] })
  assert.equal(adopted.statusCode, 200, adopted.body)
  assert.equal(adopted.json().visitorId, signedIn[0]!.id)

  assert.equal((await db.selectFrom('visitor').select('id').execute()).length, 2, 'nobody signed in twice')
  assert.deepEqual(await auditedAs(ctx, 'visitor.saved-sign-in-refused'), [], 'nothing refused')
})

/** A sign-in the tablet saved `hoursAgo` hours ago, sent now: too old, refused (its audit row holds `key`). */
async function refusedCopy(ctx: TestApp, tablet: KioskTablet, key: string, hoursAgo: number) {
  const sent = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Rita Refused',
    hostText: 'zoe host',
    action: 'visitor-sign-in',
    key,
    at: ctx.clock.now() - hoursAgo * 60 * 60_000,
    sentAt: ctx.clock.now(),
  })
  assert.equal(sent.statusCode, 422, sent.body)
}

const DISMISS = '/kiosk/api/saved-sign-ins/dismiss'

const kioskIdNamed = async (ctx: TestApp, name: string) =>
  (await ctx.app.ctx.db.selectFrom('kiosk').select('id').where('name', '=', name).executeTakeFirstOrThrow())
    .id

test('removing a refused sign-in’s notice on the tablet is audited with the kiosk, when the sign-in was made and its key, never the visitor’s name', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin, 'North door')
  const dismissed = () => auditedAs(ctx, 'visitor.saved-sign-in-dismissed')
  await refusedCopy(ctx, tablet, '1f2e3d4c-rita', 14)
  const heard: { topic: string; id: number }[] = []
  ctx.app.ctx.live.on('change', (change) => heard.push(change))
  const madeAt = ctx.clock.now() - 14 * 60 * 60_000
  // The tablet's clock is 5 s slow: the sign-in's age decides when it was made, not its clock.
  const removed = await tablet.api('POST', DISMISS, {
    key: '1f2e3d4c-rita',
    at: madeAt - 5_000,
    sentAt: ctx.clock.now() - 5_000,
    name: 'Rita Refused',
  })
  assert.equal(removed.statusCode, 200, removed.body)
  assert.deepEqual(removed.json(), { dismissed: true, recorded: true })
  const [detail] = await dismissed()
  assert.ok(detail, 'audited')
  assert.equal(detail.kiosk, 'North door')
  assert.equal(detail.at, ctx.clock.now())
  assert.equal(detail.madeAt, madeAt)
  assert.equal(detail.key, '1f2e3d4c-rita')
  assert.doesNotMatch(JSON.stringify(detail), /Rita/, 'never the visitor’s name')
  assert.deepEqual(heard, [{ topic: 'kiosk', id: detail.kioskId }], 'reception’s boards are told at once')

  // One the tablet kept from an earlier pairing names the kiosk that saved it.
  const north = (await db.selectFrom('kiosk').select('id').executeTakeFirstOrThrow()).id
  await refusedCopy(ctx, tablet, '9a8b-kept', 14)
  const side = await pairedKiosk(ctx, admin, 'Side door')
  const adopted = await side.api('POST', DISMISS, {
    key: '9a8b-kept',
    at: madeAt,
    sentAt: ctx.clock.now(),
    savedUnder: [north],
  })
  assert.equal(adopted.statusCode, 200)
  const kept = (await dismissed())[1]!
  assert.deepEqual([kept.kiosk, kept.savedByKiosk], ['Side door', 'North door'])

  // Without its key there is nothing to name: refused, and nothing recorded.
  assert.equal((await tablet.api('POST', DISMISS, { at: madeAt })).statusCode, 400)
  assert.equal((await dismissed()).length, 2)
})

test('a removal sent again (its answer lost) records nothing new and answers as the first did: from the same kiosk, or after the tablet was paired as another', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin, 'North door')
  const north = await kioskIdNamed(ctx, 'North door')
  const dismissed = () => auditedAs(ctx, 'visitor.saved-sign-in-dismissed')
  await refusedCopy(ctx, tablet, '2c4d-rita', 14)
  await refusedCopy(ctx, tablet, '8e1f-otto', 13)
  const heard: { topic: string; id: number }[] = []
  ctx.app.ctx.live.on('change', (change) => heard.push(change))
  const rita = { key: '2c4d-rita', at: ctx.clock.now() - 14 * 60 * 60_000 }

  const first = await tablet.api('POST', DISMISS, { ...rita, sentAt: ctx.clock.now() })
  assert.equal(first.statusCode, 200, first.body)
  ctx.clock.advance(20_000)
  const again = await tablet.api('POST', DISMISS, { ...rita, sentAt: ctx.clock.now() })
  assert.equal(again.statusCode, first.statusCode, again.body)
  assert.deepEqual(again.json(), first.json(), 'the tablet forgets the notice, as it would have')
  assert.equal((await dismissed()).length, 1, 'audited once')
  assert.equal(heard.length, 1, 'boards told once')

  // Otto's removal reaches the register and its answer is lost; the tablet is paired as the Side
  // door before it tries again, naming the North door as the kiosk it saved Otto's sign-in under.
  const otto = { key: '8e1f-otto', at: ctx.clock.now() - 13 * 60 * 60_000 }
  assert.equal((await tablet.api('POST', DISMISS, { ...otto, sentAt: ctx.clock.now() })).statusCode, 200)
  assert.equal((await dismissed()).length, 2)
  await admin.get('/admin/kiosks')
  assert.equal((await admin.post(`/admin/kiosks/${north}/unpair`)).statusCode, 303)
  assert.equal((await tablet.pair(await createKioskCode(admin, 'Side door'))).statusCode, 303)
  ctx.clock.advance(60_000)
  const retried = await tablet.api('POST', DISMISS, { ...otto, sentAt: ctx.clock.now(), savedUnder: [north] })
  assert.equal(retried.statusCode, 200, retried.body)
  assert.deepEqual(retried.json(), first.json())
  assert.deepEqual(
    (await dismissed()).map((d) => [d.key, d.kiosk]),
    [
      ['2c4d-rita', 'North door'],
      ['8e1f-otto', 'North door'],
    ],
    'nothing new recorded',
  )
  assert.equal(heard.length, 2)
})

test('removing a notice the register holds no refusal for records nothing and still lets the tablet forget it: a made-up key, another kiosk’s refusal, one purged with the audit trail; never a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await kioskAdmin(ctx)
  const north = await pairedKiosk(ctx, admin, 'North door')
  const side = await pairedKiosk(ctx, admin, 'Side door')
  const northId = await kioskIdNamed(ctx, 'North door')
  const dismissed = () => auditedAs(ctx, 'visitor.saved-sign-in-dismissed')
  await refusedCopy(ctx, north, '4b5c-paul', 14)
  const heard: unknown[] = []
  ctx.app.ctx.live.on('change', (change) => heard.push(change))
  const forgotten = { dismissed: true, recorded: false }
  const dismiss = async (tablet: KioskTablet, body: object) => {
    const sent = await tablet.api('POST', DISMISS, {
      at: ctx.clock.now() - 60_000,
      sentAt: ctx.clock.now(),
      ...body,
    })
    assert.equal(sent.statusCode, 200, sent.body)
    return sent.json()
  }

  assert.deepEqual(await dismiss(north, { key: 'never-refused' }), forgotten, 'a made-up key')
  assert.deepEqual(await dismiss(side, { key: '4b5c-paul' }), forgotten, 'not saved at the Side door')
  assert.deepEqual(
    await dismiss(side, { key: '4b5c-paul', savedUnder: [northId + 100] }),
    forgotten,
    'nor under a kiosk that never refused it',
  )
  assert.deepEqual(await dismissed(), [], 'nothing recorded')
  assert.deepEqual(heard, [], 'no board told')

  // 91 days on, the nightly purge has taken the refusal with the rest of the audit trail; the
  // tablet still shows its notice (nothing on the tablet expires it).
  ctx.clock.advance(91 * 24 * 60 * 60_000)
  await runScheduledTask({ ...ctx.app.ctx, log: ctx.app.log }, 'purge')
  assert.deepEqual(await auditedAs(ctx, 'visitor.saved-sign-in-refused'), [], 'purged')
  assert.deepEqual(await dismiss(north, { key: '4b5c-paul' }), forgotten)
  assert.deepEqual(await dismissed(), [])

  // Whatever the key and kiosks sent: a 2xx or a 4xx, never a 500, and nothing recorded.
  await fc.assert(
    fc.asyncProperty(
      fc.string({ minLength: 1, maxLength: 100, unit: 'binary' }),
      fc.option(fc.array(fc.integer({ min: -5, max: 2 ** 53 }), { maxLength: 21 }), { nil: undefined }),
      async (key, savedUnder) => {
        const sent = await north.api('POST', DISMISS, { key, savedUnder, at: 0, sentAt: ctx.clock.now() })
        assert.ok(sent.statusCode < 500, `${sent.statusCode} ${sent.body}`)
      },
    ),
    { numRuns: 60 },
  )
  assert.deepEqual(await dismissed(), [])
})

test('the visitor’s own link signs them out once; a forged link does nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const { zoe } = await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const id = (await tablet.api('POST', '/kiosk/api/visitors', { name: 'Lee Link', hostId: zoe })).json()
    .visitorId
  const link = visitorLink(ctx.app.ctx.keys.links, ctx.config.PUBLIC_URL, id, 'out')
  const path = new URL(link).pathname
  const opened = await ctx.app.inject({ method: 'GET', url: path })
  assert.equal(opened.statusCode, 200)
  assert.match(opened.body, /Leaving\? Tap below/)
  const row = () => ctx.app.ctx.db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal((await row()).signed_out_at, null, 'opening the link changes nothing')
  const tapped = await ctx.app.inject({ method: 'POST', url: path })
  assert.equal(tapped.statusCode, 200)
  assert.match(tapped.body, /You signed out at/)
  assert.equal((await row()).closed_by, 'visitor')
  const forged = path.slice(0, -3) + (path.endsWith('AAA') ? 'BBB' : 'AAA')
  assert.equal((await ctx.app.inject({ method: 'GET', url: forged })).statusCode, 404)
  // The badge QR read at the kiosk signs out too (here: already out, says so).
  const byBadge = await tablet.api('POST', '/kiosk/api/visitors/sign-out-by-badge', { link })
  assert.match(byBadge.json().message, /already signed out/)
  const junk = await tablet.api('POST', '/kiosk/api/visitors/sign-out-by-badge', {
    link: 'https://evil.example/v/1oAAAA',
  })
  assert.equal(junk.statusCode, 422)
})

test('reception signs a walk-in visitor in by hand (picking among hosts with the same name) and signs them out', async (t) => {
  const ctx = await buildTestApp(t)
  await staff(ctx)
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/visitors/new')
  const ambiguous = await desk.browser.post('/reception/visitors', {
    name: 'Walk In',
    company: 'Co',
    host: 'sam',
  })
  assert.equal(ambiguous.statusCode, 422)
  assert.match(ambiguous.body, /Several people match/)
  assert.match(ambiguous.body, /value="Walk In"/, 'input kept')
  const samId = /name="hostId" value="(\d+)"> Sam Able/.exec(ambiguous.body)![1]!
  const picked = await desk.browser.post('/reception/visitors', {
    name: 'Walk In',
    company: 'Co',
    host: 'sam',
    hostId: samId,
  })
  assert.equal(picked.statusCode, 303)
  const row = await ctx.app.ctx.db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(row.signed_in_via, 'reception')
  assert.equal(row.host_person_id, Number(samId))
  await desk.browser.get('/reception/visitors/new')
  const out = await desk.browser.post(`/reception/visitors/${row.id}/sign-out`)
  assert.equal(out.statusCode, 303)
  const closed = await ctx.app.ctx.db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(closed.closed_by, 'reception')
  // Staff without the role cannot.
  const staffer = await personWithRole(ctx, 'plain@example.org', { firstName: 'Pat', lastName: 'Plain' })
  assert.equal((await staffer.browser.get('/reception/visitors/new')).statusCode, 403)
})

test('nothing typed at the kiosk produces a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const { zoe } = await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const value = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.double(),
  )
  await fc.assert(
    fc.asyncProperty(
      fc.record(
        {
          name: value,
          company: value,
          hostId: fc.oneof(value, fc.constant(zoe)),
          hostText: value,
          phone: value,
          email: value,
          accept: value,
          photo: value,
          key: value,
          at: value,
          sentAt: value,
        },
        { requiredKeys: [] },
      ),
      fc.string({ maxLength: 120 }),
      async (body, q) => {
        const posted = await tablet.api('POST', '/kiosk/api/visitors', body)
        assert.ok(
          (posted.statusCode < 500 && posted.json().error !== undefined) || posted.statusCode < 300,
          `${posted.statusCode} ${posted.body}`,
        )
        for (const url of ['/kiosk/api/hosts', '/kiosk/api/visitors/inside', '/kiosk/api/staff']) {
          const searched = await tablet.api('GET', `${url}?q=${encodeURIComponent(q)}`)
          assert.ok(searched.statusCode < 500, `${url} ${searched.statusCode}`)
        }
      },
    ),
    { numRuns: 60 },
  )
})

test('the host is told once when their visitor arrives (kiosk or reception), with the visitor and the entrance; no host, no message', async (t) => {
  // The notice goes out from the outbox, sent by the in-process scheduler here (the worker with Redis).
  const ctx = await buildTestApp(t, { embeddedJobs: true })
  const { db } = ctx.app.ctx
  const { zoe } = await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'North door')
  const toZoe = () => ctx.outbox.filter((line) => line.startsWith('message to zoe.host@example.org '))
  const body = { name: 'Vera Visitor', company: 'Acme Ltd', hostId: zoe, key: 'arrive-1' }
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 201)
  await eventually(async () => toZoe().length === 1, 'the host is told')
  assert.match(toZoe()[0]!, /Vera Visitor \(Acme Ltd\) signed in at North door at 09:05/)
  const row = await db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.equal(row.host_notified_at, ctx.clock.now())
  // The same sign-in replayed tells nobody again.
  assert.equal((await tablet.api('POST', '/kiosk/api/visitors', body)).statusCode, 200)
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/visitors/new')
  await desk.browser.post('/reception/visitors', { name: 'Walk In', host: 'zoe host' })
  await eventually(async () => toZoe().length === 2, 'told of the walk-in too')
  assert.match(toZoe()[1]!, /Walk In signed in at reception/)
  assert.equal(toZoe().length, 2)
  const sent = await db
    .selectFrom('message')
    .select('purpose')
    .where('purpose', '=', 'visitor-arrived')
    .execute()
  assert.equal(sent.length, 2, 'in the message log')
})

test('at the reminder time the host is told, once, that their visitor is still signed in; not for visitors who left', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const { zoe } = await staff(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Stay Late', hostId: zoe })
  const gone = (await tablet.api('POST', '/kiosk/api/visitors', { name: 'Gone Early', hostId: zoe })).json()
    .visitorId
  await tablet.api('POST', `/kiosk/api/visitors/${gone}/sign-out`, {})
  const stillIn = () =>
    ctx.outbox.filter((l) => l.startsWith('message to zoe.host@example.org ') && /not signed out/.test(l))
  ctx.clock.set('2026-11-23T17:30:00Z')
  await runScheduledTask(run, 'send-reminders')
  assert.equal(stillIn().length, 1)
  assert.match(stillIn()[0]!, /Stay Late signed in at 09:05 today and has not signed out/)
  assert.doesNotMatch(stillIn().join('\n'), /Gone Early/)
  await runScheduledTask(run, 'send-reminders')
  assert.equal(stillIn().length, 1, 'once per visitor')
})

test('a null character in the replay key, or any field, is refused with 400 and nothing is stored (PostgreSQL cannot store it)', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  for (const body of [
    { name: 'Nul Key', key: '\u0000' },
    { name: 'Nul\u0000Name', key: 'k1' },
    { name: 'Nul Company', company: 'A\u0000B', key: 'k2' },
  ]) {
    const r = await tablet.api('POST', '/kiosk/api/visitors', body)
    assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`)
    assert.match(r.json().error, /null character/)
  }
  // Hidden thousands of levels deep in JSON it is still found, without a stack overflow.
  const deep = await tablet.request({
    method: 'POST',
    url: '/kiosk/api/visitors',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: `{"_csrf":"${tablet.csrf}","name":"Deep","extra":${'['.repeat(10_000)}"\\u0000"${']'.repeat(10_000)}}`,
  })
  assert.equal(deep.statusCode, 400, deep.body)
  assert.match(deep.json().error, /“extra(\[0\]){10000}” contains a null character/)
  assert.equal((await db.selectFrom('visitor').selectAll().execute()).length, 0)
  const search = await tablet.get('/kiosk/api/hosts?q=ab%00c')
  assert.equal(search.statusCode, 400, search.body)
})
