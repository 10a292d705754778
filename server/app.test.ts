import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { type AddressInfo, connect } from 'node:net'
import { type TestContext, test } from 'node:test'
import fc from 'fast-check'
import webPush from 'web-push'
import { buildTestApp, loginAs, TestBrowser } from './testing/build-test-app.js'
import { heldAcrossClose } from './testing/races.js'
import { apiTokenFor, giveRole, scimTokenFor } from './testing/roles.js'
import {
  appRoutes,
  browserWithEveryCookie,
  cookieChangingRoutes,
  formFieldNames,
  type Route,
} from './testing/routes.js'
import { addVisitors } from './testing/visitors.js'

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

test('every kind of answer carries the security headers: pages, errors, 404s, static files; the JSON API a set for data', async (t) => {
  const ctx = await buildTestApp(t)
  const documents = [
    await ctx.app.inject({ method: 'GET', url: '/login' }),
    await ctx.app.inject({ method: 'GET', url: '/no-such-page' }),
    await ctx.app.inject({ method: 'GET', url: '/static/app.css' }),
    await ctx.app.inject({ method: 'GET', url: '/docs/api' }),
  ]
  const api = [
    await ctx.app.inject({ method: 'GET', url: '/api/v1/me' }),
    await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/code',
      headers: { 'content-type': 'application/json' },
      payload: '{not json',
    }),
    await ctx.app.inject({ method: 'GET', url: '/api/v1/nope' }),
    await ctx.app.inject({ method: 'GET', url: '/api/v1/openapi.json' }),
  ]
  assert.deepEqual(
    [...documents, ...api].map((a) => a.statusCode),
    [200, 404, 200, 200, 401, 400, 404, 200],
  )
  for (const answer of documents) {
    const where = `${answer.statusCode} ${answer.headers['content-type']}`
    assert.match(String(answer.headers['content-security-policy']), /default-src 'self'/, where)
    assert.equal(answer.headers['x-content-type-options'], 'nosniff', where)
    assert.equal(answer.headers['x-frame-options'], 'SAMEORIGIN', where)
    assert.equal(answer.headers['cross-origin-opener-policy'], 'same-origin', where)
    assert.equal(answer.headers['cross-origin-resource-policy'], 'same-origin', where)
    assert.equal(answer.headers['referrer-policy'], 'same-origin', where)
    assert.equal(answer.headers['x-powered-by'], undefined, where)
  }
  // Data, never a document: nothing may load, frame or run from it (OWASP's REST headers), and the
  // headers only a page needs (opener, prefetch, old browsers' download and XSS filters) are left
  // off: each costs every API answer its bytes and the phone's parsing.
  for (const answer of api) {
    const where = `${answer.statusCode} ${answer.headers['content-type']}`
    assert.equal(
      answer.headers['content-security-policy'],
      "default-src 'none'; frame-ancestors 'none'",
      where,
    )
    assert.equal(answer.headers['x-content-type-options'], 'nosniff', where)
    assert.equal(answer.headers['x-frame-options'], 'DENY', where)
    assert.equal(answer.headers['cross-origin-resource-policy'], 'same-origin', where)
    assert.equal(answer.headers['referrer-policy'], 'no-referrer', where)
    assert.equal(answer.headers['x-powered-by'], undefined, where)
    for (const pageOnly of [
      'cross-origin-opener-policy',
      'origin-agent-cluster',
      'x-dns-prefetch-control',
      'x-download-options',
      'x-permitted-cross-domain-policies',
      'x-xss-protection',
    ])
      assert.equal(answer.headers[pageOnly], undefined, `${where}: ${pageOnly}`)
  }
})

test('HTTPS deployments also send HSTS, on pages and on the API', async (t) => {
  const ctx = await buildTestApp(t, { env: { PUBLIC_URL: 'https://register.example.org' } })
  for (const url of ['/login', '/api/v1/me']) {
    const answer = await ctx.app.inject({ method: 'GET', url })
    assert.match(
      String(answer.headers['strict-transport-security']),
      /max-age=31536000; includeSubDomains/,
      url,
    )
  }
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

/** Random values of the shapes people and scripts send: text, odd characters, numbers, lists. */
const anyValue = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom('%', '25:99', '2026-13-45', '-1', '0', 'null', '<b>', "' or 1=1 --", '\u0000'),
  fc.integer(),
  fc.constantFrom(2 ** 31, 2 ** 53, 1e21),
  fc.constant(null),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
)
const fieldName = fc.constantFrom(...formFieldNames)
/** What goes where a route has a parameter: real ids, missing ones, junk. */
const pathValue = fc.constantFrom(
  '1',
  '2',
  '3',
  '999999',
  '2147483648',
  '0',
  '-1',
  'abc',
  '1.5',
  'x'.repeat(300),
)
const fillPath = (pattern: string, values: string[]) => {
  let i = 0
  return pattern.replace(/:[A-Za-z_]+/g, () => encodeURIComponent(values[i++ % values.length]!))
}

/**
 * An app with the rate limit out of the way and a holder of every credential: a browser with every
 * cookie (admin, kiosk), an admin's API token and a directory (SCIM) token; `bearer` says which
 * token a route takes, if any.
 */
async function everyCredential(t: TestContext) {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '1000000' } })
  const browser = await browserWithEveryCookie(ctx)
  const apiToken = await apiTokenFor(ctx, 'admin@example.org')
  await giveRole(ctx, 'admin@example.org', 'admin')
  const scimToken = await scimTokenFor(ctx)
  const bearer = (url: string): Record<string, string> => {
    const token = url.startsWith('/api/') ? apiToken : url.startsWith('/scim/') ? scimToken : undefined
    return token ? { authorization: `Bearer ${token}` } : {}
  }
  return { ctx, browser, bearer }
}

test('malformed API input, with a valid token, to every API route gets a 4xx with a human message, never a 500', async (t) => {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '1000000' } })
  await loginAs(ctx, 'alice@example.org')
  const token = await apiTokenFor(ctx, 'admin@example.org')
  await giveRole(ctx, 'admin@example.org', 'admin')
  const routes = appRoutes(ctx.app).filter((r) => r.url.startsWith('/api/'))
  assert.ok(routes.filter((r) => r.method === 'POST').length >= 4, JSON.stringify(routes))
  const body = fc.oneof(fc.dictionary(fieldName, anyValue, { maxKeys: 5 }), fc.string({ maxLength: 50 }))
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.array(pathValue, { minLength: 1, maxLength: 2 }),
      body,
      fc.boolean(),
      async (route, params, payload, authenticated) => {
        const url = fillPath(route.url, params)
        const r = await ctx.app.inject({
          method: route.method as 'POST',
          url,
          ...(route.method === 'GET'
            ? {}
            : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
          headers: {
            ...(route.method === 'GET' ? {} : { 'content-type': 'application/json' }),
            ...(authenticated ? { authorization: `Bearer ${token}` } : {}),
          },
          remoteAddress: `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
        })
        const what = `${route.method} ${url} ${JSON.stringify(payload)}`
        assert.ok(r.statusCode < 500, `${what} → ${r.statusCode} ${r.body.slice(0, 300)}`)
        if (r.statusCode >= 400 && r.headers['content-type']?.toString().includes('json'))
          assert.equal(typeof r.json().error, 'string', what)
      },
    ),
    { numRuns: 300 },
  )
})

/** The query parameters the app's pages and API read, for the query-string property test. */
const queryName = fc.constantFrom(
  ...['q', 'from', 'to', 'day', 'person', 'action', 'page', 'point', 'show', 'size', 'status'],
  ...['before', 'template', 'next', 'format', 'report', 'm', 'filter', 'startIndex', 'count', 'x'],
)
/** Query values: odd dates and numbers, ids past the limit, escapes, text. */
const queryValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '0', '-1', '1.5', '2147483648', '1e21', 'NaN', '2026-02-30', '9999-12-31'),
  fc.constantFrom('0000-01-01', '2026-13-01', '2026-W99', 'csv', 'json', '//evil.example', '<b>', '%'),
  fc.integer().map(String),
)

test('malformed query strings on every page and API read (signed in with every role, or with a token) get an answer, never a 500', async (t) => {
  const { ctx, browser, bearer } = await everyCredential(t)
  // The event stream never ends; it reads no query.
  const routes = appRoutes(ctx.app).filter((r) => r.method === 'GET' && r.url !== '/reception/events')
  assert.ok(routes.length >= 40, `${routes.length} routes`)
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.array(pathValue, { minLength: 1, maxLength: 2 }),
      fc.array(fc.tuple(queryName, queryValue), { maxLength: 5 }),
      async (route, params, query) => {
        const url = `${fillPath(route.url, params)}?${new URLSearchParams(query)}`
        const r = await browser.request({ method: 'GET', url, headers: bearer(route.url) })
        assert.ok(r.statusCode < 500, `GET ${url} → ${r.statusCode} ${r.body.slice(0, 300)}`)
      },
    ),
    { numRuns: 1000 },
  )
})

test('malformed form posts, signed in with a valid CSRF token, to every cookie-authenticated route get a 4xx or a redirect, never a 500', async (t) => {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '1000000' } })
  await loginAs(ctx, 'target@example.org', { firstName: 'Tess', lastName: 'Target' })
  let browser = await browserWithEveryCookie(ctx)
  const routes = cookieChangingRoutes(ctx.app)
  assert.ok(routes.length >= 40, `${routes.length} routes`)
  // A run may log the browser out, revoke its device or take its role: start again as someone new.
  const freshToken = async () => {
    if ((await browser.get('/profile')).statusCode !== 200) browser = await browserWithEveryCookie(ctx)
    return browser.csrfToken()
  }
  const post = async (
    route: Route,
    params: string[],
    fields: Record<string, unknown>,
    format: 'form' | 'json',
  ) => {
    const csrf = await freshToken()
    const url = fillPath(route.url, params)
    const body = { ...fields, _csrf: csrf }
    const r = await browser.request({
      method: route.method as 'POST',
      url,
      payload:
        format === 'json'
          ? JSON.stringify(body)
          : new URLSearchParams(
              Object.entries(body).map(([k, v]): [string, string] => [k, String(v)]),
            ).toString(),
      headers: {
        'content-type': format === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
        ...(format === 'json' ? { accept: 'application/json' } : {}),
      },
    })
    const what = `${route.method} ${url} ${format} ${JSON.stringify(fields)}`
    assert.ok(r.statusCode < 500, `${what} → ${r.statusCode} ${r.body.slice(0, 300)}`)
    assert.notEqual(r.statusCode, 403, `${what}: a valid token is accepted (${r.body.slice(0, 200)})`)
  }
  // Every route at least once with nothing but the token, then random bodies, ids and routes.
  for (const route of routes) await post(route, ['1'], {}, 'form')
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.array(pathValue, { minLength: 1, maxLength: 2 }),
      fc.dictionary(fieldName, anyValue, { maxKeys: 5 }),
      fc.constantFrom('form' as const, 'json' as const),
      post,
    ),
    { numRuns: 300 },
  )
  const csrf = await freshToken()
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

test('a null character anywhere (form or JSON field, nested value, field name, query, path) is refused with 400 on every route', async (t) => {
  const { ctx, browser, bearer } = await everyCredential(t)
  // SCIM answers its own token first; scim.test.ts sends it a null character with one.
  const routes = appRoutes(ctx.app).filter((r) => !r.url.startsWith('/scim/'))
  const csrf = browser.csrfToken()
  const answers: string[] = []
  const expect = async (what: string, options: Parameters<typeof browser.request>[0]) => {
    const r = await browser.request(options)
    if (r.statusCode !== 400 || !/null character/.test(r.body))
      answers.push(`${what} → ${r.statusCode} ${r.body.slice(0, 120)}`)
  }
  for (const route of routes) {
    const api = route.url.startsWith('/api/')
    const headers = bearer(route.url)
    const url = fillPath(route.url, ['1'])
    if (route.url.includes(':'))
      await expect(`${route.method} ${route.url} path`, {
        method: route.method as 'GET',
        url: fillPath(route.url, ['a\u0000b']),
        headers,
      })
    if (route.method === 'GET' || route.method === 'DELETE') {
      await expect(`${route.method} ${url} query`, { method: route.method, url: `${url}?q=a%00b`, headers })
      continue
    }
    await expect(`${route.method} ${url} JSON`, {
      method: route.method as 'POST',
      url,
      payload: JSON.stringify({ _csrf: csrf, list: [{ deep: 'a\u0000b' }] }),
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
    })
    await expect(`${route.method} ${url} JSON field name`, {
      method: route.method as 'POST',
      url,
      payload: JSON.stringify({ _csrf: csrf, 'a\u0000b': 'x' }),
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
    })
    if (!api)
      await expect(`${route.method} ${url} form`, {
        method: route.method as 'POST',
        url,
        payload: `_csrf=${encodeURIComponent(csrf)}&name=a%00b`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      })
  }
  assert.ok(routes.length > 100, `${routes.length} routes`)
  assert.deepEqual(answers, [])
  // The person and their device are untouched: the browser still works.
  assert.equal((await browser.get('/profile')).statusCode, 200)
})

test('ids past the largest the database holds (2³¹−1) in a path, a field or a SCIM page are a 4xx on every route, never a 500', async (t) => {
  const holder = await everyCredential(t)
  const { ctx, bearer } = holder
  let browser = holder.browser
  const big = 2 ** 31
  const fields = Object.fromEntries(
    ['hostId', 'accept', 'before', 'm', 'id', 'person', 'other', 'personId', 'visitId'].map((f) => [f, big]),
  )
  const failures: string[] = []
  // The event stream never ends; it has no id to read.
  for (const route of appRoutes(ctx.app).filter((r) => r.url !== '/reception/events')) {
    // A run may log the browser out or revoke its device: start again as someone new.
    if ((await browser.get('/profile')).statusCode !== 200) browser = await browserWithEveryCookie(ctx)
    const url = `${fillPath(route.url, [String(big)])}${route.url.startsWith('/scim/') ? `?startIndex=${big}0000000000&count=${big}` : ''}`
    const r = await browser.request({
      method: route.method as 'GET',
      url,
      headers: {
        accept: 'application/json',
        ...bearer(route.url),
        ...(route.method === 'GET' ? {} : { 'content-type': 'application/json' }),
      },
      ...(route.method === 'GET'
        ? {}
        : { payload: JSON.stringify({ _csrf: browser.csrfToken(), ...fields }) }),
    })
    if (r.statusCode >= 500) failures.push(`${route.method} ${url} → ${r.statusCode}`)
  }
  assert.deepEqual(failures, [])
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

test('a made-up device cookie or bearer token on each request does not buy a fresh rate-limit bucket', async (t) => {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '20' } })
  const office = '198.51.100.201'
  const alice = await loginAs(ctx, 'alice@example.org', undefined, new TestBrowser(ctx.app, office))
  const madeUp = () => randomBytes(32).toString('base64url')
  let last = 0
  for (let i = 0; i < 21; i++) {
    const [url, headers] =
      i % 2 === 0
        ? ['/login', { cookie: `br_device=${madeUp()}` }]
        : ['/api/v1/presence', { authorization: `Bearer ${madeUp()}` }]
    last = (await ctx.app.inject({ method: 'GET', url, headers, remoteAddress: office })).statusCode
  }
  assert.equal(last, 429, 'one address gets its limit, whatever token it makes up')
  // A live device keeps its own bucket: the rest of the office behind that address goes on.
  assert.equal((await alice.get('/')).statusCode, 200)
})

test('metrics are served to loopback or with the metrics token only', async (t) => {
  const open = await buildTestApp(t)
  const local = await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
  assert.equal(local.statusCode, 200)
  assert.match(local.body, /^process_resident_memory_bytes \d+$/m)
  assert.match(local.body, /^register_people_inside 0$/m)
  // Everyone inside, as the fire list counts them: staff and visitors (of whom a gauge of their own).
  await addVisitors(open.app.ctx.db, open.clock.now(), { inside: 2, left: 1, expected: 1 })
  await (await loginAs(open, 'alice@example.org')).post('/sign-in', { day: '2026-11-23' })
  const counted = await open.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
  assert.match(counted.body, /^register_people_inside 3$/m)
  assert.match(counted.body, /^register_visitors_inside 2$/m)
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

test('metrics behind a proxy: the client address TRUST_PROXY yields decides, not the proxy on loopback', async (t) => {
  const proxied = await buildTestApp(t, { env: { TRUST_PROXY: '127.0.0.1' } })
  const outsider = await proxied.app.inject({
    method: 'GET',
    url: '/metrics',
    remoteAddress: '127.0.0.1',
    headers: { 'x-forwarded-for': '203.0.113.5' },
  })
  assert.equal(outsider.statusCode, 403, 'a visitor relayed by nginx on the same machine is not local')
  const local = await proxied.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
  assert.equal(local.statusCode, 200, 'a scraper on the machine itself, not through the proxy')
})

test('in production metrics need METRICS_TOKEN, even from loopback', async (t) => {
  // With DATABASE_URL (the PostgreSQL pass) production also requires shared Web Push keys.
  const keys = webPush.generateVAPIDKeys()
  const production = await buildTestApp(t, {
    env: { NODE_ENV: 'production', VAPID_PUBLIC_KEY: keys.publicKey, VAPID_PRIVATE_KEY: keys.privateKey },
  })
  const local = await production.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })
  assert.equal(local.statusCode, 403)
  assert.match(local.body, /METRICS_TOKEN/)
})

// The timeout only turns a hang without the fix into a failure; it is not a timing target.
test('a client that stops sending its body gets 408 and is disconnected, and others are served meanwhile', {
  timeout: 30_000,
}, async (t) => {
  const ctx = await buildTestApp(t, { timeouts: { requestMs: 400, checkEveryMs: 50 } })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const slow = connect(port, '127.0.0.1')
  let received = ''
  slow.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1')
  })
  const closed = once(slow, 'close')
  slow.write(
    'POST /login/code HTTP/1.1\r\nHost: register.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncontact=',
  )
  const meanwhile = await fetch(`http://127.0.0.1:${port}/healthz`)
  assert.equal(meanwhile.status, 200)
  await closed
  assert.match(received, /^HTTP\/1\.1 408 /)
})

test('the app is built with finite request, header and idle-connection timeouts', async (t) => {
  const ctx = await buildTestApp(t)
  const server = ctx.app.server
  for (const [name, value] of [
    ['requestTimeout', server.requestTimeout],
    ['headersTimeout', server.headersTimeout],
    ['timeout', server.timeout],
  ] as const) {
    assert.ok(value > 0 && value <= 120_000, `${name} = ${value}`)
  }
  assert.ok(server.headersTimeout <= server.requestTimeout)
})

// The timeout only turns a hang into a failure: without the fix, close waits out the 75 s idle timeout.
test('closing the app does not wait for a connection that never sent a request (a browser preconnect)', {
  timeout: 30_000,
}, async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const accepted = once(ctx.app.server, 'connection')
  const quiet = connect(port, '127.0.0.1')
  quiet.on('error', () => {})
  await accepted
  const closed = once(quiet, 'close')
  await ctx.app.close()
  await closed
})

test('closing the app does not wait for a connection whose request was answered during the close (it idles after: keep-alive)', async (t) => {
  // Before, the close waited for that connection's 75 s idle timeout.
  const held = heldAcrossClose('/healthz')
  const ctx = await buildTestApp(t, { instrument: held.instrument })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  // fetch keeps the connection open for the next request, as browsers do.
  const client = new AbortController()
  const answered = fetch(`http://127.0.0.1:${port}/healthz`, { signal: client.signal }).then((r) => r.text())
  assert.ok(
    await held.closeThenRelease(ctx.app, answered, client),
    'the close waited for a connection that had nothing left to answer',
  )
})
