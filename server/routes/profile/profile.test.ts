import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, TestBrowser } from '../../testing/build-test-app.js'

test('a person edits their name, with inline errors and input kept', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.get('/profile')
  const bad = await browser.post('/profile/name', { firstName: 'Alice', lastName: '' })
  assert.equal(bad.statusCode, 422)
  assert.match(bad.body, /Enter your last name/)
  assert.match(bad.body, /name="firstName" type="text" value="Alice"/)
  const ok = await browser.follow(
    await browser.post('/profile/name', { firstName: 'Alicia', lastName: 'Smith-Jones' }),
  )
  assert.match(ok.body, /Your name is updated/)
  assert.match(ok.body, /Alicia Smith-Jones/)
  const audit = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'profile.renamed')
    .execute()
  assert.equal(audit.length, 1)
})

test('a second contact is added with its own code, then either contact signs in as the same person', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.get('/profile')
  const invalid = await browser.post('/profile/contacts', { contact: '12' })
  assert.equal(invalid.statusCode, 422)
  assert.match(invalid.body, /That does not look like a mobile number/)
  await browser.follow(await browser.post('/profile/contacts', { contact: '07400 123456' }))
  assert.match(browser.lastHtml, /sent a 6-digit code to \+44 7400 123456/)
  const wrong = await browser.post('/profile/contacts/verify', {
    code: '000000' === ctx.lastCode('+447400123456') ? '111111' : '000000',
  })
  assert.equal(wrong.statusCode, 422)
  const added = await browser.follow(
    await browser.post('/profile/contacts/verify', { code: ctx.lastCode('+447400123456') }),
  )
  assert.match(added.body, /\+44 7400 123456 is now on your profile/)

  const phone = await loginAs(ctx, '07400123456', undefined, new TestBrowser(ctx.app, '198.51.100.3'))
  assert.match(phone.lastHtml, /Welcome back, Alice/)
  assert.equal((await ctx.app.ctx.db.selectFrom('person').selectAll().execute()).length, 1)
})

test('a contact that belongs to someone else cannot be added, even with its code', async (t) => {
  const ctx = await buildTestApp(t)
  await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' })
  const alice = await loginAs(ctx, 'alice@example.org', undefined, new TestBrowser(ctx.app, '198.51.100.4'))
  await alice.get('/profile')
  await alice.follow(await alice.post('/profile/contacts', { contact: 'bob@example.org' }))
  const refused = await alice.follow(
    await alice.post('/profile/contacts/verify', { code: ctx.lastCode('bob@example.org') }),
  )
  assert.match(refused.body, /already belongs to another account/)
  const contacts = await ctx.app.ctx.db.selectFrom('contact').select(['person_id', 'value']).execute()
  assert.deepEqual(contacts.find((c) => c.value === 'bob@example.org')?.person_id, 1)
})

test('the last contact cannot be removed; another one can', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  await browser.get('/profile')
  assert.doesNotMatch(browser.lastHtml, /\/remove"/, 'no remove button for the only contact')
  const forced = await browser.follow(await browser.post('/profile/contacts/1/remove'))
  assert.match(forced.body, /You need at least one contact/)
  await browser.follow(await browser.post('/profile/contacts', { contact: 'alice@work.example' }))
  await browser.follow(
    await browser.post('/profile/contacts/verify', { code: ctx.lastCode('alice@work.example') }),
  )
  const removed = await browser.follow(await browser.post('/profile/contacts/1/remove'))
  assert.match(removed.body, /Contact removed/)
  const left = await ctx.app.ctx.db.selectFrom('contact').select('value').execute()
  assert.deepEqual(left, [{ value: 'alice@work.example' }])
})

test("the device list names devices from their user agent, and nobody can revoke another person's device", async (t) => {
  const ctx = await buildTestApp(t)
  const alice = await loginAs(ctx, 'alice@example.org')
  const bob = new TestBrowser(ctx.app, '198.51.100.8')
  bob.userAgent =
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36'
  await loginAs(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Jones' }, bob)
  const page = await alice.get('/profile')
  assert.match(page.body, /Safari on iOS<\/strong> \(this device\)/)
  assert.doesNotMatch(page.body, /Android/)
  const attempt = await alice.follow(await alice.post('/profile/devices/2/revoke'))
  assert.match(attempt.body, /not on your list/)
  assert.equal((await bob.get('/')).statusCode, 200, 'Bob is still signed in')
  assert.match((await bob.get('/profile')).body, /Chrome on Android/)
})
