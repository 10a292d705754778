import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, TestBrowser } from '../../testing/build-test-app.js'

test('a new person verifies by email, gives a name, and lands on the home page signed out', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  const sent = await browser.post('/login/code', { contact: '  Alice.Smith@Example.ORG ' })
  assert.equal(sent.statusCode, 303)
  assert.equal(sent.headers.location, '/login/verify')
  const page = await browser.get('/login/verify')
  assert.match(page.body, /sent a 6-digit code to alice\.smith@example\.org/)
  assert.match(ctx.outbox.at(-1)!, /^message to alice\.smith@example\.org \(login-code\): .*code is \d{6}/)

  const code = ctx.lastCode('alice.smith@example.org')
  const needName = await browser.post('/login/verify', { code })
  assert.equal(needName.statusCode, 422)
  assert.match(needName.body, /Tell us your name/)
  assert.match(needName.body, new RegExp(`name="code" value="${code}"`))

  const badName = await browser.post('/login/verify', { code, firstName: '', lastName: 'Smith' })
  assert.equal(badName.statusCode, 422)
  assert.match(badName.body, /Enter your first name/)
  assert.match(badName.body, /value="Smith"/, 'input stays filled in')

  const done = await browser.post('/login/verify', { code, firstName: ' Alice ', lastName: 'Smith' })
  assert.equal(done.statusCode, 303)
  assert.equal(done.headers.location, '/')
  const cookie = done.cookies.find((c) => c.name === 'br_device')!
  assert.ok(cookie, 'device cookie set')
  assert.equal(cookie.httpOnly, true)
  assert.equal(cookie.sameSite, 'Lax')
  assert.ok((cookie.maxAge ?? 0) > 300 * 24 * 3600, 'long-lived')
  assert.ok(!cookie.secure, 'not Secure over plain http')
  const home = await browser.follow(done)
  assert.equal(home.statusCode, 200)
  assert.match(home.body, /Welcome, Alice/)
  assert.match(home.body, /signed out/)
  assert.match(home.body, />Sign in</)
})

test('the device cookie is Secure when the app is reached over HTTPS behind a trusted proxy', async (t) => {
  const ctx = await buildTestApp(t, { env: { TRUST_PROXY: 'true' } })
  const browser = new TestBrowser(ctx.app)
  const original = browser.request.bind(browser)
  browser.request = (o) => original({ ...o, headers: { 'x-forwarded-proto': 'https', ...(o.headers ?? {}) } })
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'bob@example.org' })
  await browser.get('/login/verify')
  const done = await browser.post('/login/verify', {
    code: ctx.lastCode('bob@example.org'),
    firstName: 'Bob',
    lastName: 'Jones',
  })
  assert.equal(done.statusCode, 303)
  assert.equal(done.cookies.find((c) => c.name === 'br_device')?.secure, true)
})

test('a known person signing in on a second device is not asked for a name again', async (t) => {
  const ctx = await buildTestApp(t)
  await loginAs(ctx, 'carol@example.org', { firstName: 'Carol', lastName: 'King' })
  const second = new TestBrowser(ctx.app)
  await second.get('/login')
  await second.post('/login/code', { contact: 'CAROL@example.org' })
  await second.get('/login/verify')
  const done = await second.post('/login/verify', { code: ctx.lastCode('carol@example.org') })
  assert.equal(done.statusCode, 303)
  const home = await second.follow(done)
  assert.match(home.body, /Welcome back, Carol/)
})

test('phone numbers are normalised to E.164 and bad ones get an inline error', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  const bad = await browser.post('/login/code', { contact: '0740012' })
  assert.equal(bad.statusCode, 422)
  assert.match(bad.body, /That does not look like a mobile number/)
  assert.match(bad.body, /value="0740012"/)
  const ok = await browser.post('/login/code', { contact: '07400 123456' })
  assert.equal(ok.statusCode, 303)
  assert.match(ctx.outbox.at(-1)!, /^message to \+447400123456 /)
  assert.match(ctx.outbox.at(-1)!, /@register\.test #\d{6}/, 'SMS ends with the origin-bound auto-fill line')
})

test('requesting a code answers the same for known and unknown contacts', async (t) => {
  const ctx = await buildTestApp(t)
  await loginAs(ctx, 'known@example.org')
  const a = new TestBrowser(ctx.app, '198.51.100.1')
  const b = new TestBrowser(ctx.app, '198.51.100.2')
  await a.get('/login')
  await b.get('/login')
  const known = await a.post('/login/code', { contact: 'known@example.org' })
  const unknown = await b.post('/login/code', { contact: 'stranger@example.org' })
  assert.equal(known.statusCode, unknown.statusCode)
  assert.equal(known.headers.location, unknown.headers.location)
  const knownPage = (await a.get('/login/verify')).body
    .replace(/known@example\.org/g, 'X')
    .replace(/value="[^"]+"/g, '')
  const unknownPage = (await b.get('/login/verify')).body
    .replace(/stranger@example\.org/g, 'X')
    .replace(/value="[^"]+"/g, '')
  assert.equal(knownPage, unknownPage)
})

test('a wrong code counts down, then the code dies after five wrong guesses', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'dave@example.org' })
  await browser.get('/login/verify')
  const right = ctx.lastCode('dave@example.org')
  const wrong = right === '000000' ? '111111' : '000000'
  for (let left = 4; left >= 1; left--) {
    const r = await browser.post('/login/verify', { code: wrong })
    assert.equal(r.statusCode, 422)
    assert.match(r.body, new RegExp(`${left} tr(y|ies) left`))
  }
  const last = await browser.post('/login/verify', { code: wrong })
  assert.equal(last.statusCode, 429)
  assert.match(last.body, /no longer works/)
  const tooLate = await browser.post('/login/verify', { code: right })
  assert.equal(tooLate.statusCode, 422)
  assert.match(tooLate.body, /expired or was already used/)
})

test('forms without a valid CSRF token are refused with a clear message', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  const missing = await browser.post('/login/code', { contact: 'eve@example.org' }, false)
  assert.equal(missing.statusCode, 403)
  assert.match(missing.body, /Reload the page and try again/)
  const forged = await browser.post('/login/code', { contact: 'eve@example.org', _csrf: 'forged' }, false)
  assert.equal(forged.statusCode, 403)
  assert.equal(ctx.outbox.length, 0, 'no code sent')
})

test('asking for too many codes for one contact gives a clear "try again" message', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  for (let i = 0; i < 3; i++) {
    assert.equal((await browser.post('/login/code', { contact: 'frank@example.org' })).statusCode, 303)
    await browser.get('/login')
    ctx.clock.advance(60_000)
  }
  const limited = await browser.post('/login/code', { contact: 'frank@example.org' })
  assert.equal(limited.statusCode, 429)
  assert.match(limited.body, /Try again in 7 minutes/)
  assert.equal(limited.headers['retry-after'], '420')
  assert.equal(ctx.outbox.length, 3)
})

test('an expired code page sends the person back to the start', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  const verify = await browser.get('/login/verify')
  assert.equal(verify.statusCode, 303)
  assert.equal(verify.headers.location, '/login')
})

test('a personal sign-in link recognises a new device in one tap, and stops working when replaced', async (t) => {
  const ctx = await buildTestApp(t)
  const owner = await loginAs(ctx, 'gina@example.org', { firstName: 'Gina', lastName: 'Lopez' })
  await owner.get('/profile')
  await owner.follow(await owner.post('/profile/link'))
  const link = /href="http:\/\/register\.test(\/link\/[A-Za-z0-9_-]{43})"/.exec(owner.lastHtml)?.[1]
  assert.ok(link, 'link shown')
  assert.match(owner.lastHtml, /<svg[^>]*>/, 'QR code shown')
  const again = await owner.get('/profile')
  assert.doesNotMatch(again.body, /\/link\/[A-Za-z0-9_-]{43}/, 'the link is shown once only')

  const phone = new TestBrowser(ctx.app, '198.51.100.77')
  const landing = await phone.get(link)
  assert.equal(landing.statusCode, 200)
  assert.match(landing.body, /Continue as Gina/)
  assert.equal(phone.cookies.has('br_device'), false, 'opening the link alone changes nothing')
  const home = await phone.follow(await phone.post(link))
  assert.match(home.body, /Welcome, Gina/)
  assert.ok(phone.cookies.has('br_device'))

  await owner.get('/profile')
  await owner.post('/profile/link')
  assert.equal((await new TestBrowser(ctx.app).get(link)).statusCode, 404, 'the old link is dead')
})
