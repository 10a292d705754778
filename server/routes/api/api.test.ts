import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, type TestApp } from '../../testing/build-test-app.js'

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
  assert.equal(dead.statusCode, 401, 'the right code no longer works after five wrong guesses')
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

test('healthz answers 200 when the database does', async (t) => {
  const ctx = await buildTestApp(t)
  const ok = await ctx.app.inject({ method: 'GET', url: '/healthz' })
  assert.equal(ok.statusCode, 200)
  assert.deepEqual(ok.json(), { status: 'ok' })
})
