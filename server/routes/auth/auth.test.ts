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
  assert.match(page.body, /sent a 6-digit code to <strong>alice\.smith@example\.org<\/strong>/)
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
  assert.equal(tooLate.statusCode, 429)
  assert.match(tooLate.body, /Too many wrong codes/, 'the right code too late is told why, not "expired"')
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

test('a name over 60 characters re-renders the form with the error by the field and the input kept', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'long@example.org' })
  await browser.get('/login/verify')
  const code = ctx.lastCode('long@example.org')
  await browser.post('/login/verify', { code })
  const long = 'Maximiliana'.repeat(6)
  const refused = await browser.post('/login/verify', { code, firstName: long, lastName: 'Tanaka (Ken)' })
  assert.equal(refused.statusCode, 422)
  assert.match(
    refused.body,
    /id="firstName-error">Your first name must be 60 characters or fewer \(this is 66\)/,
  )
  assert.match(refused.body, new RegExp(`id="firstName" name="firstName" type="text" value="${long}"`))
  assert.match(refused.body, /value="Tanaka \(Ken\)"/, 'the other field is kept too')
  assert.match(refused.body, /maxlength="60"/)
  // A real name with brackets, digits and a non-breaking hyphen is accepted.
  const done = await browser.post('/login/verify', {
    code,
    firstName: 'Mary\u2011Jane 2nd',
    lastName: 'Tanaka (Ken)',
  })
  assert.equal(done.statusCode, 303)
  const person = await ctx.app.ctx.db.selectFrom('person').selectAll().executeTakeFirstOrThrow()
  assert.equal(`${person.first_name} ${person.last_name}`, 'Mary\u2011Jane 2nd Tanaka (Ken)')
})

test('the back button after finishing sign-up does not say the sign-in expired over a signed-in page', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'back@example.org', { firstName: 'Bea', lastName: 'Back' })
  // Back to the code page (its form still on screen), and the form sent again.
  const reopened = await browser.get('/login/verify')
  assert.equal(reopened.statusCode, 303)
  assert.equal(reopened.headers.location, '/')
  const resent = await browser.post('/login/verify', { code: '123456', firstName: 'Bea', lastName: 'Back' })
  assert.equal(resent.statusCode, 303)
  assert.equal(resent.headers.location, '/')
  const home = await browser.follow(resent)
  assert.doesNotMatch(home.body, /expired/)
  assert.match(home.body, /You are <strong>signed out<\/strong>/)
  // Someone not signed in still learns that the sign-in expired.
  const stranger = new TestBrowser(ctx.app)
  await stranger.get('/login')
  const expired = await stranger.post('/login/verify', { code: '123456' })
  assert.equal(expired.headers.location, '/login')
  assert.match((await stranger.follow(expired)).body, /That sign-in has expired/)
})

test('after signing in, the page asked for opens; only paths on this site are followed', async (t) => {
  const ctx = await buildTestApp(t)
  const cases: [asked: string, landing: string][] = [
    ['/history?x=1', '/history?x=1'],
    ['/profile', '/profile'],
  ]
  let n = 0
  for (const [asked, landing] of cases) {
    const browser = new TestBrowser(ctx.app, `198.51.100.${++n}`)
    const bounced = await browser.get(asked)
    assert.equal(bounced.headers.location, '/login')
    await browser.get('/login')
    const contact = `return${n}@example.org`
    await browser.post('/login/code', { contact })
    await browser.get('/login/verify')
    const code = ctx.lastCode(contact)
    await browser.post('/login/verify', { code })
    const done = await browser.post('/login/verify', { code, firstName: 'Ray', lastName: 'Turn' })
    assert.equal(done.statusCode, 303)
    assert.equal(done.headers.location, landing, asked)
  }
})

test('the contact field does not force the email keyboard on people typing a phone number', async (t) => {
  const ctx = await buildTestApp(t)
  const page = (await new TestBrowser(ctx.app).get('/login')).body
  assert.match(page, /Email address or mobile number/)
  assert.doesNotMatch(page, /id="contact"[^>]*inputmode=/, 'the full keyboard has letters, @ and digits')
  assert.match(page, /id="contact-keyboard"[^>]*>Type a number: use the number pad</)
  assert.match(page, /id="contact"[^>]*maxlength="254"/)
})

test('after five wrong codes the page says so, even for the right code; the contact is stated once', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'alice@example.org' })
  const page = await browser.get('/login/verify')
  assert.equal(page.body.match(/alice@example\.org/g)?.length, 1, 'the code page names the contact once')
  const code = ctx.lastCode('alice@example.org')
  const wrong = code === '000000' ? '111111' : '000000'
  for (let i = 0; i < 5; i++) await browser.post('/login/verify', { code: wrong })
  for (const attempt of [wrong, code]) {
    const after = await browser.post('/login/verify', { code: attempt })
    assert.match(after.body, /Too many wrong codes/, attempt)
    assert.doesNotMatch(after.body, /expired or was already used/)
  }
})

test('a phone in daily use is never signed out by its cookie expiring: a use after a pause renews the 400-day cookie', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  const token = browser.cookies.get('br_device')
  const deviceCookies = (response: { cookies: unknown[] }) =>
    (response.cookies as { name: string; value: string; maxAge?: number }[]).filter(
      (c) => c.name === 'br_device',
    )
  // Browsers keep a cookie 400 days at most from when it was set, however often it is sent.
  ctx.clock.advance(2 * 60_000)
  const later = await browser.get('/')
  assert.equal(later.statusCode, 200)
  assert.deepEqual(
    deviceCookies(later).map((c) => [c.value, c.maxAge]),
    [[token, 400 * 24 * 60 * 60]],
    'the same token, for another 400 days',
  )
  for (const url of ['/', '/history']) {
    assert.deepEqual(
      deviceCookies(await browser.get(url)),
      [],
      `${url}: used within the minute, nothing to renew`,
    )
  }
})
