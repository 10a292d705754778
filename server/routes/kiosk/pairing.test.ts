import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashToken } from '../../identity/secrets.js'
import { buildTestApp } from '../../testing/build-test-app.js'
import { createKioskCode, KioskTablet, kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { KIOSK_COOKIE } from './index.js'

test('an admin adds a kiosk, the tablet pairs with the code once, and the admin sees its last contact', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const admin = await kioskAdmin(ctx)
  const code = await createKioskCode(admin, 'Main entrance')
  assert.match(code, /^[A-Z2-9]{4}-[A-Z2-9]{4}$/)

  // The code is stored only as a keyed hash; no token exists yet.
  const row = await db.selectFrom('kiosk').selectAll().executeTakeFirstOrThrow()
  assert.equal(row.token_hash, null)
  assert.ok(row.pairing_code_hash && !row.pairing_code_hash.includes(code.replace('-', '')))

  const unpaired = new KioskTablet(ctx.app, '192.0.2.50')
  const pairPage = await unpaired.get('/kiosk')
  assert.match(pairPage.body, /Pair this tablet as a kiosk/)

  const tablet = new KioskTablet(ctx.app, '192.0.2.51')
  ctx.clock.advance(9 * 60_000)
  // Typed in lower case with a space: still the code.
  const paired = await tablet.pair(code.toLowerCase().replace('-', ' '))
  assert.equal(paired.statusCode, 303)
  const token = tablet.cookies.get(KIOSK_COOKIE)!
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '256-bit token')
  const stored = await db.selectFrom('kiosk').selectAll().executeTakeFirstOrThrow()
  assert.equal(stored.token_hash, hashToken(token), 'only the hash is stored')
  assert.equal(stored.pairing_code_hash, null, 'the code is used up')
  const page = await tablet.get('/kiosk')
  assert.match(page.body, /I’m visiting — sign in/)
  assert.doesNotMatch(page.body, /Ada Admin/, 'no personal data on the kiosk screen')

  // The same code again, on another tablet: refused with a human message.
  const second = new KioskTablet(ctx.app, '192.0.2.52')
  const again = await second.pair(code)
  assert.equal(again.statusCode, 422)
  assert.match(again.body, /not right, or it has expired or been used/)
  assert.equal(second.cookies.has(KIOSK_COOKIE), false)

  // Heartbeat: the kiosk's calls are its last contact, shown to the admin.
  ctx.clock.advance(5 * 60_000)
  const state = await tablet.api('GET', '/kiosk/api/state')
  assert.equal(state.statusCode, 200)
  assert.equal(state.json().kiosk, 'Main entrance')
  const list = await admin.get('/admin/kiosks')
  assert.match(list.body, /Main entrance/)
  assert.match(list.body, /paired Mon 23 Nov 2026, 09:14/)
  assert.match(
    list.body,
    /<td data-label="Last contact">Mon 23 Nov 2026, 09:19<\/td>/,
    'last contact is the latest call',
  )

  // Audited, with the kiosk's name.
  const audit = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', 'like', 'kiosk.%')
    .orderBy('id')
    .execute()
  assert.deepEqual(
    audit.map((a) => [a.action, JSON.parse(a.detail).kiosk]),
    [
      ['kiosk.created', 'Main entrance'],
      ['kiosk.paired', 'Main entrance'],
    ],
  )
  for (const a of audit) assert.doesNotMatch(a.detail, new RegExp(code.replace('-', '-?'), 'i'))
})

test('a pairing code expires after 10 minutes, and junk or wrong codes get a 422, never a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await kioskAdmin(ctx)
  const code = await createKioskCode(admin, 'Side door')
  ctx.clock.advance(10 * 60_000 + 1)
  const tablet = new KioskTablet(ctx.app, '192.0.2.60')
  assert.equal((await tablet.pair(code)).statusCode, 422)
  for (const typed of ['', 'AAAA-AAAA', '💥'.repeat(10), 'x'.repeat(40)]) {
    const response = await tablet.post('/kiosk/pair', { code: typed })
    assert.equal(response.statusCode, typed.length > 20 * 2 ? 400 : 422, `"${typed}"`)
    assert.match(response.body, /pairing code|must NOT have more/i)
  }
  // A new code for the same kiosk works, and the old one stays dead.
  await admin.get('/admin/kiosks')
  const kioskId = (await ctx.app.ctx.db.selectFrom('kiosk').select('id').executeTakeFirstOrThrow()).id
  const renewed = await admin.post(`/admin/kiosks/${kioskId}/pairing-code`)
  const fresh = /id="pairing-code">([A-Z0-9-]+)</.exec(renewed.body)![1]!
  assert.equal((await tablet.pair(code)).statusCode, 422)
  assert.equal((await tablet.pair(fresh)).statusCode, 303)
})

test('a kiosk token does only kiosk things: no presence, roll call, admin or API', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin)
  const token = tablet.cookies.get(KIOSK_COOKIE)!
  const asCookie = { cookie: `${KIOSK_COOKIE}=${token}; br_device=${token}` }
  for (const url of [
    '/reception',
    '/reception/roll-calls',
    '/admin/people',
    '/admin/kiosks',
    '/',
    '/profile',
  ]) {
    const response = await ctx.app.inject({ method: 'GET', url, headers: asCookie })
    assert.equal(response.statusCode, 303, url)
    assert.equal(response.headers.location, '/login', url)
  }
  for (const url of ['/api/v1/presence', '/api/v1/visits', '/api/v1/me']) {
    const response = await ctx.app.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(response.statusCode, 401, url)
  }
  // The cookie is only sent to /kiosk.
  const setCookie = String(
    (await new KioskTablet(ctx.app).pair(await createKioskCode(admin, 'Back door'))).headers['set-cookie'],
  )
  assert.match(setCookie, /Path=\/kiosk/)
  assert.match(setCookie, /HttpOnly/)
})

test('unpairing a kiosk stops its token at the next request', async (t) => {
  const ctx = await buildTestApp(t)
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin)
  const kioskId = (await ctx.app.ctx.db.selectFrom('kiosk').select('id').executeTakeFirstOrThrow()).id
  await admin.get('/admin/kiosks')
  const unpaired = await admin.post(`/admin/kiosks/${kioskId}/unpair`)
  assert.equal(unpaired.statusCode, 303)
  const state = await tablet.api('GET', '/kiosk/api/state')
  assert.equal(state.statusCode, 401)
  assert.match(state.json().error, /not paired any more/)
  assert.match((await tablet.get('/kiosk')).body, /Pair this tablet/)
  // Staff cannot reach the admin page.
  const audit = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select('action')
    .where('action', '=', 'kiosk.unpaired')
    .execute()
  assert.equal(audit.length, 1)
})

test('a kiosk left on for years stays paired: a request after a pause renews its 400-day cookie', async (t) => {
  const ctx = await buildTestApp(t)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const token = tablet.cookies.get(KIOSK_COOKIE)
  const kioskCookies = (response: { cookies: unknown[] }) =>
    (response.cookies as { name: string; value: string; maxAge?: number; path?: string }[]).filter(
      (c) => c.name === KIOSK_COOKIE,
    )
  for (const request of [() => tablet.get('/kiosk'), () => tablet.api('GET', '/kiosk/api/state')]) {
    ctx.clock.advance(2 * 60_000)
    const renewed = await request()
    assert.equal(renewed.statusCode, 200)
    assert.deepEqual(
      kioskCookies(renewed).map((c) => [c.value, c.maxAge, c.path]),
      [[token, 400 * 24 * 60 * 60, '/kiosk']],
    )
    assert.deepEqual(kioskCookies(await request()), [], 'asked again at once: nothing to renew')
  }
})
