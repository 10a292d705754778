import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, type TestApp } from '../../testing/build-test-app.js'
import { databaseSnapshot } from '../../testing/db-snapshot.js'
import { giveRole } from '../../testing/roles.js'

async function apiLogin(ctx: TestApp, contact = 'api@example.org'): Promise<string> {
  const sent = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact } })
  assert.equal(sent.statusCode, 202)
  const code = ctx.lastCode(contact)
  const verified = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact, code, firstName: 'Ada', lastName: 'Lovelace' },
  })
  assert.equal(verified.statusCode, 200)
  return verified.json().token
}

test('code request: 202 for known and unknown alike, 400 for malformed, 429 with Retry-After', async (t) => {
  const ctx = await buildTestApp(t)
  await apiLogin(ctx, 'known@example.org')
  const known = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: { contact: 'known@example.org' },
  })
  const unknown = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: { contact: 'nobody@example.org' },
  })
  assert.equal(known.statusCode, 202)
  assert.deepEqual(known.json(), unknown.json())
  assert.deepEqual(unknown.json(), { sent: true })

  for (const payload of [{ contact: 'not a contact' }, {}, { contact: 42 }, { contact: 'x'.repeat(400) }]) {
    const bad = await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload })
    assert.equal(bad.statusCode, 400, JSON.stringify(payload))
    assert.equal(typeof bad.json().error, 'string')
  }
  await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: { contact: 'nobody@example.org' },
  })
  await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: { contact: 'nobody@example.org' },
  })
  const limited = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: { contact: 'nobody@example.org' },
  })
  assert.equal(limited.statusCode, 429)
  assert.ok(Number(limited.headers['retry-after']) > 0)
  assert.match(limited.json().error, /Try again in \d+ minutes/)
})

test('verify: 422 asks a new person for a name without using up the code; 401 wrong; 429 after five', async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact: '+44 7400 123456' } })
  const code = ctx.lastCode('+447400123456')
  const noName = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: '07400123456', code },
  })
  assert.equal(noName.statusCode, 422)
  const ok = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: '07400 123456', code, firstName: 'Ada', lastName: 'Lovelace' },
  })
  assert.equal(ok.statusCode, 200)
  const body = ok.json()
  assert.match(body.token, /^[A-Za-z0-9_-]{43}$/)
  assert.deepEqual(Object.keys(body.person).sort(), ['firstName', 'id', 'lastName'])
  const stored = await ctx.app.ctx.db.selectFrom('device').select('token_hash').execute()
  assert.ok(
    stored.every((d) => d.token_hash !== body.token),
    'only the hash is stored',
  )

  const reuse = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: '07400123456', code },
  })
  assert.equal(reuse.statusCode, 401, 'single use')

  await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact: '07400123456' } })
  const fresh = ctx.lastCode('+447400123456')
  const wrong = fresh === '123456' ? '654321' : '123456'
  for (let i = 0; i < 4; i++) {
    const r = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/verify',
      payload: { contact: '07400123456', code: wrong },
    })
    assert.equal(r.statusCode, 401)
  }
  const fifth = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: '07400123456', code: wrong },
  })
  assert.equal(fifth.statusCode, 429)
  const dead = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: '07400123456', code: fresh },
  })
  assert.equal(dead.statusCode, 429, 'the right code no longer works after five wrong guesses')
  assert.match(dead.json().error, /Too many wrong codes/)
})

test('codes expire after ten minutes, and a new code kills the previous one', async (t) => {
  const ctx = await buildTestApp(t)
  await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact: 'a@example.org' } })
  const first = ctx.lastCode('a@example.org')
  ctx.clock.advance(10 * 60_000)
  const expired = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: 'a@example.org', code: first, firstName: 'A', lastName: 'B' },
  })
  assert.equal(expired.statusCode, 401)
  assert.match(expired.json().error, /expired/)

  await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact: 'a@example.org' } })
  const second = ctx.lastCode('a@example.org')
  await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact: 'a@example.org' } })
  const third = ctx.lastCode('a@example.org')
  if (second !== third) {
    const old = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/verify',
      payload: { contact: 'a@example.org', code: second, firstName: 'A', lastName: 'B' },
    })
    assert.equal(old.statusCode, 401)
  }
  const ok = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact: 'a@example.org', code: third, firstName: 'A', lastName: 'B' },
  })
  assert.equal(ok.statusCode, 200)
})

test('me, sign-in and sign-out with a bearer token; idempotent taps', async (t) => {
  const ctx = await buildTestApp(t)
  const token = await apiLogin(ctx)
  const auth = { authorization: `Bearer ${token}` }
  const me = await ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: auth })
  assert.equal(me.statusCode, 200)
  assert.deepEqual(me.json(), {
    person: { id: 1, firstName: 'Ada', lastName: 'Lovelace' },
    present: false,
    since: null,
  })

  const signIn = await ctx.app.inject({ method: 'POST', url: '/api/v1/sign-in', headers: auth })
  assert.equal(signIn.statusCode, 200)
  assert.equal(signIn.json().present, true)
  assert.equal(signIn.json().changed, true)
  assert.equal(signIn.json().since, '2026-11-23T09:05:00.000Z')
  const again = await ctx.app.inject({ method: 'POST', url: '/api/v1/sign-in', headers: auth })
  assert.equal(again.json().changed, false)
  assert.equal(again.json().present, true)

  const out = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-out',
    headers: { ...auth, 'idempotency-key': 'k-1' },
  })
  assert.deepEqual(
    { present: out.json().present, changed: out.json().changed, since: out.json().since },
    { present: false, changed: true, since: null },
  )
  const retried = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-out',
    headers: { ...auth, 'idempotency-key': 'k-1' },
  })
  assert.deepEqual(retried.json(), out.json(), 'a retry with the same key returns the first answer')
  const other = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-out',
    headers: { ...auth, 'idempotency-key': 'k-2' },
  })
  assert.equal(other.json().changed, false)
  const bad = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-out',
    headers: { ...auth, 'idempotency-key': 'é' },
  })
  assert.equal(bad.statusCode, 400)
  assert.equal((await ctx.app.ctx.db.selectFrom('visit').selectAll().execute()).length, 1)
})

test('the API refuses missing, malformed, revoked tokens and cookies with 401', async (t) => {
  const ctx = await buildTestApp(t)
  const token = await apiLogin(ctx)
  for (const authorization of [
    undefined,
    'Bearer',
    'Bearer nonsense',
    `Basic ${token}`,
    `Bearer ${token}x`,
  ]) {
    const r = await ctx.app.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: authorization ? { authorization } : {},
    })
    assert.equal(r.statusCode, 401, String(authorization))
    assert.match(r.json().error, /Sign in first/)
  }
  const cookieOnly = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-in',
    cookies: { br_device: token },
  })
  assert.equal(cookieOnly.statusCode, 401, 'cookies never authenticate the API, so no CSRF is possible there')
  await ctx.app.ctx.db.updateTable('device').set({ revoked_at: ctx.clock.now() }).execute()
  const revoked = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/me',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(revoked.statusCode, 401)
})

test('healthz answers 200 when the database does, 503 when it does not', async (t) => {
  const ctx = await buildTestApp(t)
  const ok = await ctx.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { status: 'ok', database: 'ok', redis: 'not configured' })
  await ctx.app.ctx.db.destroy()
  const down = await ctx.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(down.statusCode, 503)
  assert.equal(down.json().database, 'down')
})

test('every JSON API route refuses bodies that are not JSON with 415, before anything happens', async (t) => {
  const ctx = await buildTestApp(t)
  const token = await apiLogin(ctx)
  const routes = ctx.app.routeList
    .flatMap((r) =>
      (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url })),
    )
    .filter((r) => r.url.startsWith('/api/') && !['GET', 'HEAD', 'OPTIONS'].includes(r.method))
  assert.ok(routes.some((r) => r.url === '/api/v1/auth/code'))
  const bodies = [
    { type: 'application/x-www-form-urlencoded', payload: 'contact=victim%40example.org' },
    { type: 'text/plain', payload: '{"contact":"victim@example.org"}' },
    {
      type: 'multipart/form-data; boundary=x',
      payload: '--x\r\nContent-Disposition: form-data; name="contact"\r\n\r\nv@example.org\r\n--x--',
    },
    { type: undefined, payload: '{"contact":"victim@example.org"}' },
  ]
  for (const { method, url: pattern } of routes) {
    const url = pattern.replace(/:[A-Za-z_]+/g, '1')
    for (const body of bodies) {
      const r = await ctx.app.inject({
        method: method as 'POST',
        url,
        payload: body.payload,
        headers: { authorization: `Bearer ${token}`, ...(body.type ? { 'content-type': body.type } : {}) },
      })
      assert.equal(r.statusCode, 415, `${method} ${pattern} with ${body.type}: ${r.body}`)
      assert.match(r.json().error, /JSON/)
    }
  }
  assert.equal(
    ctx.outbox.filter((line) => line.includes('victim')).length,
    0,
    'no code was sent to the victim',
  )
  const json = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: '{"contact":"victim@example.org"}',
    headers: { 'content-type': 'application/json; charset=utf-8' },
  })
  assert.equal(json.statusCode, 202)
  const noBody = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-in',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(noBody.statusCode, 200, 'a POST without a body needs no content type')
})

test('every JSON API route that needs a token refuses cookies alone (a signed-in admin browser) with 401 and changes nothing', async (t) => {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '1000000' } })
  const browser = await loginAs(ctx, 'admin@example.org', { firstName: 'Ada', lastName: 'Admin' })
  await giveRole(ctx, 'admin@example.org', 'admin')
  await browser.get('/profile')
  const csrf = browser.csrfToken()
  const routes = ctx.app.routeList
    .flatMap((r) =>
      (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url })),
    )
    .filter((r) => r.url.startsWith('/api/') && ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
  const before = await databaseSnapshot(ctx.app.ctx.db)
  const checked: string[] = []
  for (const { method, url: pattern } of routes) {
    const url = pattern.replace(/:[A-Za-z_]+/g, '1')
    const body =
      method === 'GET'
        ? {}
        : { payload: JSON.stringify({ _csrf: csrf }), headers: { 'content-type': 'application/json' } }
    const anonymous = await ctx.app.inject({ method: method as 'POST', url, ...body })
    // Routes anyone may call (asking for a code, the OpenAPI document) authenticate nobody.
    if (anonymous.statusCode !== 401) continue
    const withCookies = await browser.request({ method: method as 'POST', url, ...body })
    assert.equal(withCookies.statusCode, 401, `${method} ${pattern} with cookies only: ${withCookies.body}`)
    assert.match(withCookies.json().error, /Sign in first/)
    checked.push(`${method} ${pattern}`)
  }
  assert.ok(
    checked.includes('GET /api/v1/me') && checked.includes('POST /api/v1/sign-in'),
    checked.join(', '),
  )
  assert.ok(checked.length >= 5, `checked ${checked.join(', ')}`)
  assert.equal(await databaseSnapshot(ctx.app.ctx.db), before, 'nothing changed')
})

test('an Idempotency-Key is bound to its route and request: reused for anything else, 422 and nothing done', async (t) => {
  const ctx = await buildTestApp(t)
  const token = await apiLogin(ctx)
  const auth = { authorization: `Bearer ${token}`, 'idempotency-key': 'k' }
  const signIn = await ctx.app.inject({ method: 'POST', url: '/api/v1/sign-in', headers: auth })
  assert.equal(signIn.statusCode, 200)
  assert.equal(signIn.json().present, true)
  const signOut = await ctx.app.inject({ method: 'POST', url: '/api/v1/sign-out', headers: auth })
  assert.equal(signOut.statusCode, 422, signOut.body)
  assert.match(signOut.json().error, /Idempotency-Key was already used for a different request/)
  const me = await ctx.app.inject({ method: 'GET', url: '/api/v1/me', headers: auth })
  assert.equal(me.json().present, true, 'the sign-out was neither run nor answered with the sign-in')
  const retry = await ctx.app.inject({ method: 'POST', url: '/api/v1/sign-in', headers: auth })
  assert.deepEqual(retry.json(), signIn.json(), 'the same request with the same key still gets its answer')

  const other = await apiLogin(ctx, 'other@example.org')
  const elsewhere = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-out',
    headers: { authorization: `Bearer ${other}`, 'idempotency-key': 'k' },
  })
  assert.equal(elsewhere.statusCode, 200, 'keys belong to one device')
})

test('sign-in and sign-out take the client time `at` with the offline rules: not future, not too old, never before a later change', async (t) => {
  const ctx = await buildTestApp(t)
  const token = await apiLogin(ctx)
  const tap = (url: string, payload: object) =>
    ctx.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}` }, payload })
  ctx.clock.set('2026-11-23T09:05:00Z')

  // Tapped at the door at 08:55, sent ten minutes later from the lift.
  const late = await tap('/api/v1/sign-in', { at: '2026-11-23T08:55:00Z' })
  assert.equal(late.statusCode, 200)
  assert.equal(late.json().since, '2026-11-23T08:55:00.000Z', 'recorded at the real time')
  const visit = await ctx.app.ctx.db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(visit.signed_in_at, Date.parse('2026-11-23T08:55:00Z'))

  for (const [at, status, message] of [
    ['2026-11-23T09:30:00Z', 422, /in the future/],
    ['2026-11-22T08:00:00Z', 422, /more than 12 hours ago/],
    ['yesterday', 422, /ISO-8601 time with a zone/],
    ['2026-11-23T08:00:00', 422, /ISO-8601 time with a zone/],
    ['2026-11-23T08:50:00Z', 409, /overtaken by a later change/],
  ] as const) {
    const refused = await tap('/api/v1/sign-out', { at })
    assert.equal(refused.statusCode, status, at)
    assert.match(refused.json().error, message)
  }
  const out = await tap('/api/v1/sign-out', { at: '2026-11-23T09:01:00+00:00' })
  assert.equal(out.statusCode, 200)
  assert.equal(out.json().present, false)
  const closed = await ctx.app.ctx.db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(closed.signed_out_at, Date.parse('2026-11-23T09:01:00Z'))
})
