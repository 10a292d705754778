import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { buildTestApp, loginAs, TestBrowser } from './testing/build-test-app.js'

test('pages carry strict security headers and a CSP without inline script', async (t) => {
  const ctx = await buildTestApp(t)
  const page = await ctx.app.inject({ method: 'GET', url: '/login' })
  const csp = String(page.headers['content-security-policy'])
  assert.match(csp, /default-src 'self'/)
  assert.match(csp, /script-src 'self'(;|$)/)
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
  assert.match(csp, /frame-ancestors 'none'/)
  assert.equal(page.headers['x-content-type-options'], 'nosniff')
  assert.equal(page.headers['referrer-policy'], 'same-origin')
  assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
  assert.doesNotMatch(page.body, /\sstyle="/, 'no inline styles')
})

test('every kind of answer carries the security headers: pages, API, errors, 404s, static files', async (t) => {
  const ctx = await buildTestApp(t)
  const answers = [
    await ctx.app.inject({ method: 'GET', url: '/login' }),
    await ctx.app.inject({ method: 'GET', url: '/api/v1/me' }),
    await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/code',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    }),
    await ctx.app.inject({ method: 'GET', url: '/no-such-page' }),
    await ctx.app.inject({ method: 'GET', url: '/static/app.css' }),
  ]
  assert.deepEqual(
    answers.map((a) => a.statusCode),
    [200, 401, 400, 404, 200],
  )
  for (const answer of answers) {
    const where = `${answer.statusCode} ${answer.headers['content-type']}`
    assert.match(String(answer.headers['content-security-policy']), /default-src 'self'/, where)
    assert.equal(answer.headers['x-content-type-options'], 'nosniff', where)
    assert.equal(answer.headers['x-frame-options'], 'SAMEORIGIN', where)
    assert.equal(answer.headers['cross-origin-opener-policy'], 'same-origin', where)
    assert.equal(answer.headers['cross-origin-resource-policy'], 'same-origin', where)
    assert.equal(answer.headers['referrer-policy'], 'same-origin', where)
    assert.equal(answer.headers['x-powered-by'], undefined, where)
  }
})

test('HTTPS deployments also send HSTS', async (t) => {
  const ctx = await buildTestApp(t, { env: { PUBLIC_URL: 'https://register.example.org' } })
  const page = await ctx.app.inject({ method: 'GET', url: '/login' })
  assert.match(String(page.headers['strict-transport-security']), /max-age=31536000/)
})

test('unknown pages are 404 in HTML or JSON, and rate limited', async (t) => {
  const ctx = await buildTestApp(t)
  const html = await ctx.app.inject({ method: 'GET', url: '/nope', headers: { accept: 'text/html' } })
  assert.equal(html.statusCode, 404)
  assert.match(html.body, /There is no page at this address/)
  const json = await ctx.app.inject({ method: 'GET', url: '/api/v1/nope' })
  assert.equal(json.statusCode, 404)
  assert.deepEqual(json.json(), { error: 'There is no page at this address.' })
  let last = 0
  for (let i = 0; i < 61; i++)
    last = (await ctx.app.inject({ method: 'GET', url: `/nope-${i}`, remoteAddress: '198.51.100.99' }))
      .statusCode
  assert.equal(last, 429)
})

test('signed-in pages send people who are not recognised to the login page', async (t) => {
  const ctx = await buildTestApp(t)
  for (const url of ['/', '/profile', '/profile/contacts/verify']) {
    const r = await ctx.app.inject({ method: 'GET', url })
    assert.equal(r.statusCode, 303, url)
    assert.equal(r.headers.location, '/login')
  }
  const forged = await ctx.app.inject({ method: 'GET', url: '/', cookies: { br_device: 'A'.repeat(43) } })
  assert.equal(forged.headers.location, '/login')
})

test('malformed API input always gets a 4xx with a human message, never a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const value = fc.oneof(
    fc.string({ maxLength: 80 }),
    fc.integer(),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.string(), { maxLength: 3 }),
  )
  const body = fc.oneof(
    fc.dictionary(fc.constantFrom('contact', 'code', 'firstName', 'lastName', 'x'), value),
    fc.string({ maxLength: 50 }),
  )
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/api/v1/auth/code', '/api/v1/auth/verify', '/api/v1/sign-in'),
      body,
      async (url, payload) => {
        const raw = typeof payload === 'string'
        const r = await ctx.app.inject({
          method: 'POST',
          url,
          payload: raw ? payload : JSON.stringify(payload),
          headers: { 'content-type': 'application/json' },
          remoteAddress: `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
        })
        assert.ok(r.statusCode < 500, `${url} ${JSON.stringify(payload)} → ${r.statusCode} ${r.body}`)
        if (r.statusCode >= 400) assert.equal(typeof r.json().error, 'string')
      },
    ),
    { numRuns: 150 },
  )
})

test('malformed form posts always get a 4xx or a redirect, never a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.get('/')
  const csrf = browser.csrfToken()
  const field = fc.oneof(
    fc.string({ maxLength: 400 }),
    fc.constant('%'),
    fc.constant('25:99'),
    fc.constant('2026-13-45'),
  )
  const urls = [
    '/sign-in',
    '/sign-out',
    '/visits/1/close',
    '/visits/abc/close',
    '/profile/name',
    '/profile/contacts',
    '/profile/contacts/verify',
    '/profile/devices/x/revoke',
    '/logout-nope',
    '/login/code',
    '/login/verify',
  ]
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...urls),
      fc.dictionary(fc.constantFrom('day', 'time', 'firstName', 'lastName', 'contact', 'code', 'zzz'), field),
      async (url, fields) => {
        const r = await browser.request({
          method: 'POST',
          url,
          payload: new URLSearchParams({ _csrf: csrf, ...fields }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
        assert.ok(r.statusCode < 500, `${url} ${JSON.stringify(fields)} → ${r.statusCode}`)
      },
    ),
    { numRuns: 150 },
  )
  const wrongType = await browser.request({
    method: 'POST',
    url: '/sign-in',
    payload: '<xml/>',
    headers: { 'content-type': 'application/xml' },
  })
  assert.equal(wrongType.statusCode, 415)
  const huge = await browser.request({
    method: 'POST',
    url: '/profile/name',
    payload: `_csrf=${csrf}&firstName=${'a'.repeat(100_000)}`,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  assert.ok(huge.statusCode === 413 || huge.statusCode === 400, String(huge.statusCode))
})

test('a stale or foreign CSRF token never changes state', async (t) => {
  const ctx = await buildTestApp(t)
  const alice = await loginAs(ctx, 'alice@example.org')
  const mallory = new TestBrowser(ctx.app, '198.51.100.66')
  await mallory.get('/login')
  const foreignToken = mallory.csrfToken()
  const r = await alice.post('/sign-in', { day: '2026-11-23', _csrf: foreignToken }, false)
  assert.equal(r.statusCode, 403)
  assert.equal((await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()).length, 0)
})

test('recognised devices behind one office IP have their own rate-limit buckets', async (t) => {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '20' } })
  const alice = await loginAs(ctx, 'alice@example.org')
  const bob = await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' })
  assert.equal(alice.ip, bob.ip)
  for (let i = 0; i < 20; i++) await alice.get('/')
  assert.equal((await alice.get('/')).statusCode, 429)
  assert.equal((await bob.get('/')).statusCode, 200, 'Bob is not limited by Alice')
  const anonymous = new TestBrowser(ctx.app, '198.51.100.200')
  for (let i = 0; i < 20; i++) await anonymous.get('/login')
  const limited = await anonymous.get('/login')
  assert.equal(limited.statusCode, 429)
  assert.match(limited.body, /You are going too fast/)
})

test('metrics are served to loopback or with the metrics token only', async (t) => {
  const open = await buildTestApp(t)
  const local = await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
  assert.equal(local.statusCode, 200)
  assert.match(local.body, /^process_resident_memory_bytes \d+$/m)
  assert.match(local.body, /^register_people_inside 0$/m)
  assert.equal(
    (await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.1' })).statusCode,
    403,
  )

  const guarded = await buildTestApp(t, { env: { METRICS_TOKEN: 'metrics-token-0123456789' } })
  const denied = await guarded.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
  assert.equal(denied.statusCode, 403)
  const ok = await guarded.app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress: '203.0.113.1',
    headers: { authorization: 'Bearer metrics-token-0123456789' },
  })
  assert.equal(ok.statusCode, 200)
})
