import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildTestApp, loginAs, TestBrowser } from '../../testing/build-test-app.js'
import { holdWriteLock } from '../../testing/test-database.js'
import { addVisitors } from '../../testing/visitors.js'

const countVisits = async (ctx: Awaited<ReturnType<typeof buildTestApp>>) =>
  (await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()).length

test('one tap signs in, shows green with "since", and a second tap signs out', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T09:05:00Z')
  const browser = await loginAs(ctx, 'alice@example.org')
  const signedIn = await browser.follow(await browser.post('/sign-in', { day: '2026-11-23' }))
  assert.match(signedIn.body, /class="state-in"/)
  assert.match(signedIn.body, /You have signed in/)
  assert.match(signedIn.body, /since <time datetime="2026-11-23T09:05:00.000Z">09:05<\/time>/)
  assert.match(signedIn.body, />Sign out</)
  assert.match(signedIn.body, /1 person is in the building/)

  ctx.clock.set('2026-11-23T17:31:00Z')
  const signedOut = await browser.follow(await browser.post('/sign-out', { day: '2026-11-23' }))
  assert.match(signedOut.body, /class="state-out"/)
  assert.match(signedOut.body, /You have signed out/)
  const [visit] = await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()
  assert.equal(visit?.signed_in_at, Date.parse('2026-11-23T09:05:00Z'))
  assert.equal(visit?.signed_out_at, Date.parse('2026-11-23T17:31:00Z'))
  assert.equal(visit?.closed_by, 'person')
})

test('times are shown in the site time zone (British Summer Time in June)', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-06-15T08:05:00Z')
  const browser = await loginAs(ctx, 'alice@example.org')
  const page = await browser.follow(await browser.post('/sign-in', { day: '2026-06-15' }))
  assert.match(page.body, />09:05<\/time>/)
})

test('a double tap or a second tab never errors and never duplicates a visit', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  const html = browser.lastHtml
  const first = await browser.post('/sign-in', { day: '2026-11-23' })
  browser.lastHtml = html // the second tab still shows the old page (and its token)
  const second = await browser.post('/sign-in', { day: '2026-11-23' })
  assert.equal(first.statusCode, 303)
  assert.equal(second.statusCode, 303)
  const page = await browser.follow(second)
  assert.match(page.body, /You are already signed in/)
  assert.equal(await countVisits(ctx), 1)

  const concurrent = await Promise.all(
    Array.from({ length: 5 }, () => browser.post('/sign-out', { day: '2026-11-23' })),
  )
  assert.ok(concurrent.every((r) => r.statusCode === 303))
  const again = await Promise.all(
    Array.from({ length: 5 }, () => browser.post('/sign-in', { day: '2026-11-23' })),
  )
  assert.ok(again.every((r) => r.statusCode === 303))
  const visits = await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()
  assert.equal(visits.length, 2, 'one closed visit and one open visit')
  assert.equal(visits.filter((v) => v.signed_out_at === null).length, 1)
})

test('signing out when not signed in changes nothing and says so', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  const page = await browser.follow(await browser.post('/sign-out', { day: '2026-11-23' }))
  assert.match(page.body, /You were not signed in, so nothing changed/)
  assert.equal(await countVisits(ctx), 0)
  const audits = await ctx.app.ctx.db.selectFrom('audit_event').select('action').execute()
  assert.ok(!audits.some((a) => a.action === 'visit.signed-out'))
})

test('a page rendered yesterday is refused after midnight, never applied to the wrong day', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T23:58:00Z')
  const browser = await loginAs(ctx, 'alice@example.org')
  assert.match(browser.lastHtml, /name="day" value="2026-11-23"/)
  ctx.clock.set('2026-11-24T00:01:00Z')
  const refused = await browser.post('/sign-in', { day: '2026-11-23' })
  assert.equal(refused.statusCode, 303)
  const page = await browser.follow(refused)
  assert.match(page.body, /That page was from an earlier day, so nothing was changed/)
  assert.match(page.body, /name="day" value="2026-11-24"/)
  assert.equal(await countVisits(ctx), 0)
})

test('several visits a day are allowed and "in the building" counts people, not records', async (t) => {
  const ctx = await buildTestApp(t)
  const alice = await loginAs(ctx, 'alice@example.org')
  const bob = await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' })
  for (const hour of ['09', '12', '14']) {
    ctx.clock.set(`2026-11-23T${hour}:00:00Z`)
    await alice.follow(await alice.post('/sign-in', { day: '2026-11-23' }))
    ctx.clock.set(`2026-11-23T${hour}:30:00Z`)
    await alice.follow(await alice.post('/sign-out', { day: '2026-11-23' }))
  }
  await alice.follow(await alice.post('/sign-in', { day: '2026-11-23' }))
  const page = await bob.follow(await bob.post('/sign-in', { day: '2026-11-23' }))
  assert.match(page.body, /2 people are in the building/)
  assert.equal(await countVisits(ctx), 5)
})

test('"in the building" on the home page counts visitors inside too, not those who left or are only expected', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T09:00:00Z')
  await addVisitors(ctx.app.ctx.db, ctx.clock.now(), { inside: 2, left: 1, expected: 1 })
  const alice = await loginAs(ctx, 'alice@example.org')
  const page = await alice.follow(await alice.post('/sign-in', { day: '2026-11-23' }))
  assert.match(page.body, /3 people are in the building/)
})

test('a visit left open on an earlier day is shown to its owner, who closes it with the real time', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-20T09:00:00Z')
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.follow(await browser.post('/sign-in', { day: '2026-11-20' }))
  ctx.clock.set('2026-11-23T08:50:00Z')
  const home = await browser.get('/')
  assert.match(home.body, /You did not sign out on Fri 20 Nov/)
  assert.match(home.body, />Sign in</, 'today they are not in')
  const visitId = /action="\/visits\/(\d+)\/close"/.exec(home.body)?.[1]
  assert.ok(visitId)

  const tooEarly = await browser.post(`/visits/${visitId}/close`, { time: '08:00' })
  assert.equal(tooEarly.statusCode, 422)
  assert.match(tooEarly.body, /You signed in at 09:00, so you left after that/)
  assert.match(tooEarly.body, /value="08:00"/)
  const nonsense = await browser.post(`/visits/${visitId}/close`, { time: '25:99' })
  assert.equal(nonsense.statusCode, 422)
  assert.match(nonsense.body, /Enter the time you left/)

  const closed = await browser.follow(await browser.post(`/visits/${visitId}/close`, { time: '17:45' }))
  assert.match(closed.body, /Your visit on Fri 20 Nov is closed at 17:45/)
  const visit = await ctx.app.ctx.db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(visit.signed_out_at, Date.parse('2026-11-20T17:45:00Z'))
  assert.equal(visit.closed_by, 'person')
})

test('signing in today while an old visit is open closes the old one as unconfirmed at the end of its day', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-20T09:00:00Z')
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.follow(await browser.post('/sign-in', { day: '2026-11-20' }))
  ctx.clock.set('2026-11-23T08:50:00Z')
  await browser.get('/')
  await browser.follow(await browser.post('/sign-in', { day: '2026-11-23' }))
  const visits = await ctx.app.ctx.db.selectFrom('visit').selectAll().orderBy('id').execute()
  assert.equal(visits.length, 2)
  assert.equal(visits[0]?.closed_by, 'auto')
  assert.equal(visits[0]?.signed_out_at, Date.parse('2026-11-20T23:59:59.999Z'))
  assert.equal(visits[1]?.signed_out_at, null)
})

test('a revoked device is refused on its very next request', async (t) => {
  const ctx = await buildTestApp(t)
  const phone = await loginAs(ctx, 'alice@example.org')
  const laptop = await loginAs(ctx, 'alice@example.org', undefined, new TestBrowser(ctx.app, '198.51.100.9'))
  await laptop.get('/profile')
  const phoneId = /action="\/profile\/devices\/(\d+)\/revoke"/.exec(laptop.lastHtml)?.[1]
  assert.ok(phoneId)
  const revoked = await laptop.follow(await laptop.post(`/profile/devices/${phoneId}/revoke`))
  assert.match(revoked.body, /Safari on iOS is signed out/)
  const refused = await phone.get('/')
  assert.equal(refused.statusCode, 303)
  assert.equal(refused.headers.location, '/login')
  const tap = await phone.post('/sign-in', { day: '2026-11-23' })
  assert.equal(tap.headers.location, '/login')
  assert.equal(await countVisits(ctx), 0)
})

test('every state change is audited with person, IP and user agent', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.follow(await browser.post('/sign-in', { day: '2026-11-23' }))
  await browser.follow(await browser.post('/sign-out', { day: '2026-11-23' }))
  const rows = await ctx.app.ctx.db.selectFrom('audit_event').selectAll().orderBy('id').execute()
  assert.deepEqual(
    rows.map((r) => r.action),
    ['code.requested', 'person.created', 'device.created', 'visit.signed-in', 'visit.signed-out'],
  )
  for (const row of rows) {
    assert.equal(row.ip, '203.0.113.10')
    assert.match(row.user_agent, /iPhone/)
  }
  assert.ok(rows.slice(1).every((r) => r.person_id !== null))
  const code = /code is (\d{6})/.exec(ctx.outbox[0]!)![1]!
  assert.ok(!JSON.stringify(rows).includes(code), 'codes never reach the audit trail')
})

test('proxy headers are ignored unless TRUST_PROXY says otherwise', async (t) => {
  for (const [trust, expected] of [
    ['false', '203.0.113.10'],
    ['true', '192.0.2.55'],
  ] as const) {
    const ctx = await buildTestApp(t, { env: { TRUST_PROXY: trust } })
    const browser = new TestBrowser(ctx.app)
    const original = browser.request.bind(browser)
    browser.request = (o) =>
      original({ ...o, headers: { 'x-forwarded-for': '192.0.2.55', ...(o.headers ?? {}) } })
    await browser.get('/login')
    await browser.post('/login/code', { contact: 'alice@example.org' })
    const row = await ctx.app.ctx.db.selectFrom('audit_event').select('ip').executeTakeFirstOrThrow()
    assert.equal(row.ip, expected)
  }
})

test('log out forgets this device only', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.get('/profile')
  const out = await browser.follow(await browser.post('/logout'))
  assert.match(out.body, /You have logged out of this device/)
  assert.equal(browser.cookies.has('br_device'), false)
  assert.equal((await browser.get('/')).headers.location, '/login')
})

test('while another process holds the database past the busy timeout, a tap gets 503 and retries cleanly', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'br-busy-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const path = join(dir, 'register.db')
  const ctx = await buildTestApp(t, { env: { DATABASE_PATH: path } })
  const alice = await loginAs(ctx, 'alice@example.org')
  await alice.get('/')
  // A purge or a backup in another process, holding the write lock (for longer than busy_timeout).
  const release = await holdWriteLock(t, ctx.config)
  const refused = await alice.post('/sign-in', { day: '2026-11-23' })
  assert.equal(refused.statusCode, 503)
  assert.equal(refused.headers['retry-after'], '5')
  assert.match(refused.body, /busy for a moment\. Nothing was changed/)
  await release()

  await alice.get('/')
  const retried = await alice.post('/sign-in', { day: '2026-11-23' })
  assert.equal(retried.statusCode, 303)
  const visits = await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()
  assert.equal(visits.length, 1, 'one visit: the refused tap left nothing behind')
  const audit = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select('action')
    .where('action', '=', 'visit.signed-in')
    .execute()
  assert.equal(audit.length, 1)
})
