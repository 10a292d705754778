import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, TestBrowser } from '../../testing/build-test-app.js'
import { FakeTwilio } from '../../testing/fake-twilio.js'

test('only admins see the message log; others get a clear 403, strangers go to the login page', async (t) => {
  const ctx = await buildTestApp(t)
  const stranger = new TestBrowser(ctx.app)
  const anonymous = await stranger.get('/admin/messages')
  assert.equal(anonymous.statusCode, 303)
  assert.equal(anonymous.headers.location, '/login')

  const staff = await loginAs(ctx, 'sam@example.org')
  const refused = await staff.get('/admin/messages')
  assert.equal(refused.statusCode, 403)
  assert.match(refused.body, /for administrators/)

  await ctx.app.ctx.db.updateTable('person').set({ role: 'reception' }).execute()
  assert.equal((await staff.get('/admin/messages')).statusCode, 403, 'reception is not enough')

  await ctx.app.ctx.db.updateTable('person').set({ role: 'admin' }).execute()
  const page = await staff.get('/admin/messages')
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /s••••••@example\.org|s••@example\.org/, 'recipient masked')
  assert.doesNotMatch(page.body, /sam@example\.org/)
  assert.match(page.body, /login-code/)
  assert.match(page.body, /console/)
})

test('admins see per message whether it was delivered, and can filter by status', async (t) => {
  const twilio = await FakeTwilio.start(t)
  twilio.invalidNumbers.add('+447400000111')
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const { messenger } = ctx.app.ctx
  const ok = await messenger.send({ kind: 'phone', value: '+447400123456' }, 'login-code', { code: '123456' })
  await messenger
    .send({ kind: 'phone', value: '+447400000111' }, 'login-code', { code: '123456' })
    .catch(() => {})
  await ctx.app.inject(twilio.statusCallback(ok.providerId!, 'delivered'))

  // Sign the admin in over SMS too, through the real pages.
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: '07400 222333' })
  await browser.get('/login/verify')
  const code = /code is (\d{6})/.exec(twilio.lastTo('+447400222333')!.body)![1]!
  await browser.post('/login/verify', { code, firstName: 'Ada', lastName: 'Admin' })
  await ctx.app.ctx.db.updateTable('person').set({ role: 'admin' }).execute()

  const all = await browser.get('/admin/messages')
  assert.equal(all.statusCode, 200)
  assert.match(all.body, /\+44•+456/)
  assert.doesNotMatch(all.body, /\+447400123456/)
  assert.match(all.body, /<strong>delivered<\/strong>/)
  assert.match(all.body, /<strong>failed<\/strong>/)
  assert.match(all.body, /Twilio 21211/)

  const failed = await browser.get('/admin/messages?status=failed')
  assert.match(failed.body, /<strong>failed<\/strong>/)
  assert.doesNotMatch(failed.body, /<strong>delivered<\/strong>/)
  assert.match(failed.body, /<option value="failed" selected>/)

  const bad = await browser.get('/admin/messages?status=nonsense')
  assert.equal(bad.statusCode, 400)
})
