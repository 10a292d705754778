import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, TestBrowser } from '../testing/build-test-app.js'

const sessionCookies = (response: { cookies: unknown[] }) =>
  (response.cookies as { name: string; value: string }[]).filter((c) => c.name === 'br_session')

test('a page whose session did not change sets no session cookie', async (t) => {
  const test = await buildTestApp(t)
  const browser = await loginAs(test, 'alice@example.org')
  // The first page a browser sees creates its session (the CSRF secret); after that, pages that
  // only read the session must not send a fresh cookie with every response.
  await browser.get('/')
  for (const url of ['/', '/history', '/profile']) {
    const response = await browser.get(url)
    assert.equal(response.statusCode, 200, url)
    assert.deepEqual(sessionCookies(response), [], `${url} re-sent br_session`)
  }
})

test('a flash message is shown once, and consuming it updates the session', async (t) => {
  const test = await buildTestApp(t)
  const browser = await loginAs(test, 'alice@example.org')
  await browser.get('/')
  const tapped = await browser.post('/sign-in')
  assert.equal(tapped.statusCode, 303)
  const shown = await browser.get('/')
  assert.match(shown.body, /role="status"|class="flash/)
  assert.equal(sessionCookies(shown).length, 1, 'the flash was consumed, so the session changed')
  const again = await browser.get('/')
  assert.deepEqual(sessionCookies(again), [])
})

test('a first visit without a session gets one cookie', async (t) => {
  const test = await buildTestApp(t)
  const response = await new TestBrowser(test.app).get('/login')
  assert.equal(sessionCookies(response).length, 1)
})

test('a device cookie without a session gets one session, then no fresh cookie per page', async (t) => {
  const test = await buildTestApp(t)
  const browser = await loginAs(test, 'alice@example.org')
  // An installed app after a restart: its session cookie has expired, only the device cookie is left.
  browser.cookies.delete('br_session')
  const first = await browser.get('/')
  assert.equal(first.statusCode, 200)
  assert.equal(sessionCookies(first).length, 1, 'the home page needs a CSRF secret, so it starts a session')
  for (let i = 0; i < 3; i++) {
    const again = await browser.get('/')
    assert.equal(again.statusCode, 200)
    assert.deepEqual(sessionCookies(again), [], 'the session did not change, so no Set-Cookie')
  }
})

test('every new session gets a CSRF secret of its own: 18 bytes, never one another session had', async (t) => {
  const test = await buildTestApp(t)
  const secrets = new Set<string>()
  // More sessions than one fill of the pool the secrets come from, so a refill is crossed.
  for (let i = 0; i < 300; i++) {
    const response = await new TestBrowser(test.app).get('/login')
    const [cookie] = sessionCookies(response)
    assert.ok(cookie, `session ${i} started`)
    const session = test.app.decodeSecureSession(decodeURIComponent(cookie.value))
    const secret = session?.get('_csrf')
    assert.match(String(secret), /^[\w-]{24}$/, `session ${i}'s CSRF secret`)
    assert.ok(!secrets.has(String(secret)), `session ${i} got a secret another session had`)
    secrets.add(String(secret))
  }
})
