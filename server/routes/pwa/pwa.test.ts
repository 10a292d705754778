import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { reminderPushPayload, sendPushToPerson, vapidFromConfig } from '../../push/push.service.js'
import { listPushSubscriptions } from '../../push/push-subscription.repository.js'
import { buildTestApp, loginAs, type TestBrowser } from '../../testing/build-test-app.js'
import { startFakePushService, verifyVapid } from '../../testing/fake-push-service.js'

const HOUR = 60 * 60 * 1000

async function postJson(browser: TestBrowser, url: string, body: object, withCsrf = true) {
  return browser.request({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify(withCsrf ? { ...body, _csrf: browser.csrfToken() } : body),
  })
}

async function visitsOf(ctx: Awaited<ReturnType<typeof buildTestApp>>) {
  return ctx.app.ctx.db.selectFrom('visit').selectAll().orderBy('id').execute()
}

test('the manifest takes its name and colour from config and lists installable icons', async (t) => {
  const ctx = await buildTestApp(t, { env: { SITE_NAME: 'Acme House', THEME_COLOR: '#123456' } })
  const response = await ctx.app.inject({ url: '/manifest.webmanifest' })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^application\/manifest\+json/)
  const manifest = response.json()
  assert.equal(manifest.name, 'Acme House')
  assert.equal(manifest.theme_color, '#123456')
  assert.equal(manifest.start_url, '/')
  assert.equal(manifest.display, 'standalone')
  const sizes = manifest.icons.map((i: { sizes: string; purpose: string }) => `${i.sizes} ${i.purpose}`)
  assert.deepEqual(sizes.sort(), ['192x192 any', '512x512 any', '512x512 maskable'])
  for (const icon of manifest.icons) {
    const png = await ctx.app.inject({ url: icon.src })
    assert.equal(png.statusCode, 200, icon.src)
    assert.equal(png.rawPayload.subarray(1, 4).toString(), 'PNG')
    const width = png.rawPayload.readUInt32BE(16)
    assert.equal(`${width}x${width}`, icon.sizes)
  }
})

test('the service worker is served from the root with no-cache and precaches the shell', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.app.inject({ url: '/sw.js' })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/javascript/)
  assert.equal(response.headers['cache-control'], 'no-cache')
  for (const asset of [
    '/static/app.css',
    '/static/app.js',
    '/static/queue.js',
    '/static/icons/icon-192.png',
  ]) {
    assert.ok(response.body.includes(`"${asset}"`), `precaches ${asset}`)
  }
  // Fingerprinted like the pages' links, so the browser's update check finds them in its HTTP cache.
  assert.match(
    response.body,
    /importScripts\("\/static\/queue\.js\?v=[\w-]{12}","\/static\/sw-extra\.js\?v=[\w-]{12}"\)/,
  )
})

test('a tap saved offline is applied at its original time, once, and audited as a replay', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  const tappedAt = ctx.clock.now()
  ctx.clock.advance(2 * HOUR)
  const first = await postJson(browser, '/taps', { action: 'sign-in', at: tappedAt, key: 'k-1' })
  assert.equal(first.statusCode, 200, first.body)
  assert.equal(first.json().applied, true)
  assert.equal(first.json().since, tappedAt)
  const again = await postJson(browser, '/taps', { action: 'sign-in', at: tappedAt, key: 'k-1' })
  assert.deepEqual(again.json(), first.json(), 'the same key gets the first answer back')
  const visits = await visitsOf(ctx)
  assert.equal(visits.length, 1)
  assert.equal(visits[0]!.signed_in_at, tappedAt)
  const audit = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'visit.signed-in')
    .executeTakeFirstOrThrow()
  assert.equal(JSON.parse(audit.detail).via, 'offline-replay')
  assert.equal(audit.at, tappedAt)
})

test('an offline sign-in and sign-out replayed in order make one closed visit with both times', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'bob@example.org')
  const inAt = ctx.clock.now()
  const outAt = inAt + 3 * HOUR
  ctx.clock.advance(5 * HOUR)
  assert.equal((await postJson(browser, '/taps', { action: 'sign-in', at: inAt, key: 'a' })).statusCode, 200)
  assert.equal(
    (await postJson(browser, '/taps', { action: 'sign-out', at: outAt, key: 'b' })).statusCode,
    200,
  )
  const [visit] = await visitsOf(ctx)
  assert.equal(visit!.signed_in_at, inAt)
  assert.equal(visit!.signed_out_at, outAt)
})

test('a replayed tap older than the last change is not applied and corrupts nothing', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'carol@example.org')
  const offlineOut = ctx.clock.now()
  ctx.clock.advance(HOUR)
  await browser.post('/sign-in', { day: '2026-11-23' })
  await browser.get('/')
  const signedInAt = ctx.clock.now()
  ctx.clock.advance(HOUR)
  const late = await postJson(browser, '/taps', { action: 'sign-out', at: offlineOut, key: 'old' })
  assert.equal(late.statusCode, 200)
  assert.equal(late.json().applied, false)
  assert.equal(late.json().state, 'in')
  assert.match(late.json().message, /overtaken by a later change/)
  const visits = await visitsOf(ctx)
  assert.equal(visits.length, 1)
  assert.equal(visits[0]!.signed_in_at, signedInAt)
  assert.equal(visits[0]!.signed_out_at, null)
})

test('taps from more than 12 hours ago or from the future are refused with a clear 422', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'dan@example.org')
  const now = ctx.clock.now()
  const old = await postJson(browser, '/taps', { action: 'sign-in', at: now - 13 * HOUR, key: 'x' })
  assert.equal(old.statusCode, 422)
  assert.match(old.json().error, /more than 12 hours ago/)
  const future = await postJson(browser, '/taps', { action: 'sign-in', at: now + HOUR, key: 'y' })
  assert.equal(future.statusCode, 422)
  assert.match(future.json().error, /future/)
  const bad = await postJson(browser, '/taps', { action: 'dance', at: now, key: 'z' })
  assert.equal(bad.statusCode, 400)
  assert.equal((await visitsOf(ctx)).length, 0)
})

test('a device whose clock is wrong still records the real time of the tap', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'ivy@example.org')
  const deviceNow = ctx.clock.now() + HOUR // the phone's clock is an hour fast
  const tapped = await postJson(browser, '/taps', {
    action: 'sign-in',
    at: deviceNow - 10 * 60 * 1000,
    sentAt: deviceNow,
    key: 'fast-clock',
  })
  assert.equal(tapped.statusCode, 200, tapped.body)
  const [visit] = await visitsOf(ctx)
  assert.equal(visit!.signed_in_at, ctx.clock.now() - 10 * 60 * 1000)
})

test('taps need the CSRF token and a recognised device', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'erin@example.org')
  const noToken = await postJson(
    browser,
    '/taps',
    { action: 'sign-in', at: ctx.clock.now(), key: 'k' },
    false,
  )
  assert.equal(noToken.statusCode, 403)
  const stranger = await ctx.app.inject({
    method: 'POST',
    url: '/taps',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ action: 'sign-in', at: ctx.clock.now(), key: 'k' }),
  })
  assert.equal(stranger.statusCode, 403, 'no session, so no CSRF secret: refused before anything else')
  assert.equal((await visitsOf(ctx)).length, 0)
})

test('a push goes encrypted and VAPID-signed to the push service; 410 removes the subscription', async (t) => {
  const ctx = await buildTestApp(t)
  const fake = await startFakePushService()
  t.after(() => fake.close())
  const browser = await loginAs(ctx, 'fay@example.org')
  const sub = fake.subscribe()
  await browser.get('/profile')
  const saved = await postJson(browser, '/push/subscriptions', sub.json)
  assert.equal(saved.statusCode, 201, saved.body)
  const profile = await browser.get('/profile')
  assert.match(profile.body, /data-enabled="true"/)
  const personId = (await ctx.app.ctx.db.selectFrom('person').select('id').executeTakeFirstOrThrow()).id

  await browser.post('/sign-in', { day: '2026-11-23' })
  const { db, keys, config } = ctx.app.ctx
  const options = { vapid: vapidFromConfig(config), now: ctx.clock.now() }
  const payload = await reminderPushPayload(db, keys.links, personId, ctx.clock.now(), {
    timeZone: config.TIME_ZONE,
  })
  assert.ok(payload)
  assert.equal(await sendPushToPerson(db, personId, payload, options), true)
  const [delivered] = fake.received
  assert.ok(delivered)
  assert.equal(delivered.headers['content-encoding'], 'aes128gcm')
  assert.ok(Number(delivered.headers.ttl) > 0)
  verifyVapid(String(delivered.headers.authorization), fake.base, config.VAPID_PUBLIC_KEY)
  const message = JSON.parse(sub.decrypt(delivered.body))
  assert.equal(message.title, 'Are you still in the building?')
  assert.deepEqual(
    message.actions.map((a: { action: string }) => a.action),
    ['left', 'still-here'],
  )

  const stillHere = await ctx.app.inject({
    method: 'POST',
    url: '/push/action',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ token: message.data.token, action: 'still-here' }),
  })
  assert.equal(stillHere.statusCode, 200)
  assert.equal(stillHere.json().state, 'in')
  // Audited as the link's answers are, so integrations hear of it too (reminder.answered).
  const noted = await db
    .selectFrom('audit_event')
    .select(['action', 'detail'])
    .where('action', 'like', 'reminder.%')
    .execute()
  assert.deepEqual(
    noted.map((n) => [n.action, JSON.parse(n.detail ?? '{}').answer, JSON.parse(n.detail ?? '{}').via]),
    [['reminder.answered', 'still-here', 'push']],
  )
  const events = await db.selectFrom('webhook_event').select(['type', 'data']).execute()
  assert.deepEqual(
    events.filter((e) => e.type === 'reminder.answered').map((e) => JSON.parse(e.data).answer),
    ['still-here'],
    'an endpoint subscribed to reminder.answered hears of it',
  )

  // "I've left" from the lock screen: no cookie, just the signed token from the payload.
  const left = await ctx.app.inject({
    method: 'POST',
    url: '/push/action',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ token: message.data.token, action: 'left' }),
  })
  assert.equal(left.statusCode, 200, left.body)
  assert.equal(left.json().changed, true)
  assert.equal(left.json().state, 'out')
  const twice = await ctx.app.inject({
    method: 'POST',
    url: '/push/action',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ token: message.data.token, action: 'left' }),
  })
  assert.equal(twice.json().changed, false, 'a second click changes nothing')
  const forged = await ctx.app.inject({
    method: 'POST',
    url: '/push/action',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ token: `${message.data.token.split('.')[0]}.AAAA`, action: 'left' }),
  })
  assert.equal(forged.statusCode, 403)

  fake.state.status = 500
  assert.equal(await sendPushToPerson(db, personId, payload, options), false, 'a failing push service')
  assert.equal(
    (await listPushSubscriptions(db, personId)).length,
    1,
    'is not a reason to drop the subscription',
  )

  fake.state.status = 410
  assert.equal(await sendPushToPerson(db, personId, payload, options), false)
  assert.equal((await listPushSubscriptions(db, personId)).length, 0, 'the expired subscription is gone')
  assert.equal(await sendPushToPerson(db, personId, payload, options), false, 'nothing left to send to')
})

test('push subscriptions must use HTTPS in production-like checks and carry valid keys', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'gus@example.org')
  await browser.get('/profile')
  const plain = await postJson(browser, '/push/subscriptions', {
    endpoint: 'http://push.example.org/x',
    keys: { p256dh: 'a'.repeat(87), auth: 'b'.repeat(22) },
  })
  assert.equal(plain.statusCode, 422)
  const badKey = await postJson(browser, '/push/subscriptions', {
    endpoint: 'https://push.example.org/x',
    keys: { p256dh: 'short', auth: 'b'.repeat(22) },
  })
  assert.equal(badKey.statusCode, 422)
})

test('malformed taps and notification answers get a 4xx, never a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'hal@example.org')
  const csrf = browser.csrfToken()
  await fc.assert(
    fc.asyncProperty(
      fc.record(
        {
          action: fc.oneof(fc.constantFrom('sign-in', 'sign-out'), fc.string()),
          at: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
          key: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
        },
        { requiredKeys: [] },
      ),
      fc.string({ maxLength: 400 }),
      async (body, token) => {
        const tap = await postJson(browser, '/taps', { ...body, _csrf: csrf }, false)
        assert.ok(tap.statusCode < 500, `taps ${JSON.stringify(body)} → ${tap.statusCode} ${tap.body}`)
        const action = await ctx.app.inject({
          method: 'POST',
          url: '/push/action',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          payload: JSON.stringify({ token, action: 'left' }),
        })
        assert.ok(
          action.statusCode >= 400 && action.statusCode < 500,
          `push/action ${token} → ${action.statusCode}`,
        )
      },
    ),
    { numRuns: 40 },
  )
})

test('a device that logged out gets no more pushes for the person', async (t) => {
  const ctx = await buildTestApp(t)
  const fake = await startFakePushService()
  t.after(() => fake.close())
  const browser = await loginAs(ctx, 'jo@example.org')
  await browser.get('/profile')
  assert.equal((await postJson(browser, '/push/subscriptions', fake.subscribe().json)).statusCode, 201)
  const { db, config } = ctx.app.ctx
  const personId = (await db.selectFrom('person').select('id').executeTakeFirstOrThrow()).id
  const options = { vapid: vapidFromConfig(config), now: ctx.clock.now() }
  const payload = { title: 'Hello', body: 'there' }
  assert.equal(await sendPushToPerson(db, personId, payload, options), true)
  await browser.get('/')
  await browser.post('/logout')
  assert.equal(await sendPushToPerson(db, personId, payload, options), false)
  assert.equal(fake.received.length, 1)
})

test('a live tap from a page rendered on an earlier day is refused like a stale form; a queued one is not', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T23:58:00Z')
  const browser = await loginAs(ctx, 'alice@example.org')
  ctx.clock.set('2026-11-24T00:01:00Z')
  const now = ctx.clock.now()
  const live = await postJson(browser, '/taps', {
    action: 'sign-in',
    at: now,
    sentAt: now,
    key: 'live-1',
    pageDay: '2026-11-23',
  })
  // web/queue.js keeps a tap answered 409 (or 429, 5xx) and resends it later without telling the
  // person, who sees "in" on their phone while the register has them out. A refusal must be final
  // (422), so the page drops the tap, reloads and shows why.
  assert.equal(live.statusCode, 422, 'the refusal is final, not "try again later"')
  assert.match(live.json().error, /That page was from an earlier day/)
  assert.equal((await visitsOf(ctx)).length, 0)

  const today = await postJson(browser, '/taps', {
    action: 'sign-in',
    at: now,
    sentAt: now,
    key: 'live-2',
    pageDay: '2026-11-24',
  })
  assert.equal(today.statusCode, 200)
  const audit = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'visit.signed-in')
    .executeTakeFirstOrThrow()
  assert.equal(JSON.parse(audit.detail).via, 'page', 'an online tap is not called an offline replay')

  // Made offline before midnight on yesterday's page, sent after: its own time decides, no refusal.
  const queuedAt = Date.parse('2026-11-23T23:59:00Z')
  const queued = await postJson(browser, '/taps', {
    action: 'sign-out',
    at: queuedAt - 1,
    sentAt: now,
    key: 'q-1',
    pageDay: '2026-11-23',
  })
  assert.equal(queued.statusCode, 200)
  assert.equal(queued.json().applied, false, 'older than the sign-in above, so superseded — but not refused')
})

test('an offline tap key reused for a different tap is refused with 422; the same tap resent is not', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  const at = ctx.clock.now()
  const first = await postJson(browser, '/taps', { action: 'sign-in', at, key: 'k-1', sentAt: at })
  assert.equal(first.statusCode, 200, first.body)
  const resent = await postJson(browser, '/taps', { action: 'sign-in', at, key: 'k-1', sentAt: at + 5000 })
  assert.deepEqual(resent.json(), first.json(), 'a resend (new sentAt, new page token) is the same tap')
  const reused = await postJson(browser, '/taps', { action: 'sign-out', at: at + 1000, key: 'k-1' })
  assert.equal(reused.statusCode, 422, reused.body)
  assert.equal((await visitsOf(ctx))[0]!.signed_out_at, null)
})

test('every tap the queue drops leaves its reason on the page it reloads to', async (t) => {
  // web/queue.js drops a tap answered with a 4xx other than 401, 403, 409 and 429, and the page
  // reloads: only a flash can tell the person why their tap was not applied. Refusals thrown before
  // the tap is handled (the door-code rule, a tap the schema refuses) must leave one too.
  const ctx = await buildTestApp(t, { env: { REQUIRE_DOOR_CODE: 'true' } })
  const browser = await loginAs(ctx, 'alice@example.org')
  const at = ctx.clock.now()
  const doorCode = await postJson(browser, '/taps', { action: 'sign-in', at, sentAt: at, key: 'k-1' })
  assert.equal(doorCode.statusCode, 422, doorCode.body)
  assert.match(
    (await browser.get('/')).body,
    /class="flash flash-error"[^>]*>This building asks you to sign in at the door/,
  )

  // A tap saved by another version of the app, with a field this one does not read the same way.
  const malformed = await postJson(browser, '/taps', {
    action: 'sign-out',
    at,
    key: 'k-2',
    pageDay: 'Monday',
  })
  assert.equal(malformed.statusCode, 400, malformed.body)
  assert.match(
    (await browser.get('/')).body,
    /class="flash flash-error"[^>]*>Please check the request: “pageDay”/,
  )
  assert.equal((await visitsOf(ctx)).length, 0)
})

test('a tap whose token died with its session goes through with a fresh one; a device signed out gets the login page', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.get('/')
  const kept = browser.csrfToken()
  // The session cookie is gone (a day without a tap, a browser restart); the device cookie stays.
  browser.cookies.delete('br_session')
  const at = ctx.clock.now()
  const stale = await postJson(browser, '/taps', { action: 'sign-in', at, key: 'k-1', _csrf: kept }, false)
  assert.equal(stale.statusCode, 403, 'the queue keeps the tap')
  const token = await browser.request({
    method: 'POST',
    url: '/taps/token',
    headers: { accept: 'application/json' },
  })
  assert.equal(token.statusCode, 200, token.body)
  assert.equal(token.headers['cache-control'], 'no-store')
  const again = await postJson(
    browser,
    '/taps',
    { action: 'sign-in', at, key: 'k-1', _csrf: token.json().csrf },
    false,
  )
  assert.equal(again.statusCode, 200, again.body)
  assert.equal((await visitsOf(ctx)).length, 1)

  const stranger = await ctx.app.inject({
    method: 'POST',
    url: '/taps/token',
    headers: { accept: 'application/json' },
  })
  assert.equal(stranger.statusCode, 303, 'no device, no token')
  assert.equal(stranger.headers.location, '/login')
})
