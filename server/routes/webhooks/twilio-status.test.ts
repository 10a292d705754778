import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { buildTestApp } from '../../testing/build-test-app.js'
import { FakeTwilio } from '../../testing/fake-twilio.js'

const number = '+447400123456'

async function sentText(t: TestContext) {
  const twilio = await FakeTwilio.start(t)
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const sent = await ctx.app.ctx.messenger.send({ kind: 'phone', value: number }, 'login-code', {
    code: '123456',
  })
  const sid = sent.providerId!
  const row = () =>
    ctx.app.ctx.db
      .selectFrom('message')
      .selectAll()
      .where('id', '=', sent.messageId!)
      .executeTakeFirstOrThrow()
  return { twilio, ctx, sid, row }
}

test('signed status callbacks move a message from queued to sent to delivered', async (t) => {
  const { twilio, ctx, sid, row } = await sentText(t)
  assert.equal((await row()).status, 'queued')
  const sent = await ctx.app.inject(twilio.statusCallback(sid, 'sent'))
  assert.equal(sent.statusCode, 204)
  assert.equal((await row()).status, 'sent')
  ctx.clock.advance(5_000)
  const delivered = await ctx.app.inject(twilio.statusCallback(sid, 'delivered'))
  assert.equal(delivered.statusCode, 204)
  const final = await row()
  assert.equal(final.status, 'delivered')
  assert.equal(final.updated_at, ctx.clock.now())
})

test('a late callback never moves a message backwards', async (t) => {
  const { twilio, ctx, sid, row } = await sentText(t)
  await ctx.app.inject(twilio.statusCallback(sid, 'delivered'))
  const late = await ctx.app.inject(twilio.statusCallback(sid, 'sent'))
  assert.equal(late.statusCode, 204)
  assert.equal((await row()).status, 'delivered')
})

test("an undelivered report keeps Twilio's error code", async (t) => {
  const { twilio, ctx, sid, row } = await sentText(t)
  await ctx.app.inject(twilio.statusCallback(sid, 'undelivered', { errorCode: '30003' }))
  const r = await row()
  assert.equal(r.status, 'undelivered')
  assert.equal(r.error, 'Twilio error 30003')
})

test('callbacks without a signature, with a forged one, or with altered fields are refused with 403', async (t) => {
  const { twilio, ctx, sid, row } = await sentText(t)
  const missing = await ctx.app.inject(twilio.statusCallback(sid, 'delivered', { signature: 'missing' }))
  assert.equal(missing.statusCode, 403)
  const forged = await ctx.app.inject(twilio.statusCallback(sid, 'delivered', { signature: 'forged' }))
  assert.equal(forged.statusCode, 403)
  const genuine = twilio.statusCallback(sid, 'sent')
  const altered = await ctx.app.inject({
    ...genuine,
    payload: genuine.payload.replace('MessageStatus=sent', 'MessageStatus=failed'),
  })
  assert.equal(altered.statusCode, 403)
  const otherMessage = await ctx.app.inject({ ...genuine, url: genuine.url.replace(/m=\d+/, 'm=999') })
  assert.equal(otherMessage.statusCode, 403, 'the query string is part of what is signed')
  const junk = await ctx.app.inject({
    method: 'POST',
    url: '/webhooks/twilio/status',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'abc' },
    payload: 'nonsense=1',
  })
  assert.equal(junk.statusCode, 403)
  assert.equal((await row()).status, 'queued', 'nothing changed')
})

test('the callback needs no session or CSRF token and answers 404 when Twilio is not configured', async (t) => {
  const ctx = await buildTestApp(t)
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/webhooks/twilio/status',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'MessageSid=SM1&MessageStatus=delivered',
  })
  assert.equal(response.statusCode, 404)
})
