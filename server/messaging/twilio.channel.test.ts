import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../testing/build-test-app.js'
import { FAKE_TWILIO, FakeTwilio } from '../testing/fake-twilio.js'
import { DeliveryError } from './channel.js'

const number = '+447400123456'

async function setup(t: import('node:test').TestContext, sender: { from?: string } = {}) {
  const twilio = await FakeTwilio.start(t)
  const ctx = await buildTestApp(t, { env: twilio.env(sender), channelsFromConfig: true })
  const rows = () => ctx.app.ctx.db.selectFrom('message').selectAll().orderBy('id').execute()
  return { twilio, ctx, rows, messenger: ctx.app.ctx.messenger }
}

test('a code text goes through the Messaging Service with a status callback and is logged as queued', async (t) => {
  const { twilio, rows, messenger } = await setup(t)
  assert.deepEqual(messenger.kinds, ['phone'], 'only texts are offered when only Twilio is set up')
  const sent = await messenger.send({ kind: 'phone', value: number }, 'login-code', { code: '123456' })
  const sms = twilio.lastTo(number)!
  assert.ok(sms, 'Twilio received the message')
  assert.equal(sms.messagingServiceSid, FAKE_TWILIO.messagingServiceSid)
  assert.equal(sms.from, undefined)
  assert.match(sms.body, /Building Register code is 123456/)
  assert.match(sms.body, /\n\n@register\.test #123456$/, 'ends with the origin-bound auto-fill line')
  assert.equal(sms.statusCallback, `http://register.test/webhooks/twilio/status?m=${sent.messageId}`)
  const [row] = await rows()
  assert.equal(row!.channel, 'twilio')
  assert.equal(row!.provider_id, sms.sid)
  assert.equal(row!.status, 'queued')
  assert.equal(row!.attempts, 1)
  assert.equal(row!.purpose, 'login-code')
  assert.equal(row!.error, null)
})

test('an alphanumeric sender ID is sent as From', async (t) => {
  const { twilio, messenger } = await setup(t, { from: 'Register' })
  await messenger.send({ kind: 'phone', value: number }, 'login-code', { code: '654321' })
  assert.equal(twilio.lastTo(number)?.from, 'Register')
  assert.equal(twilio.lastTo(number)?.messagingServiceSid, undefined)
})

test('an invalid number (21211) fails at once, permanently, with a message the person can act on', async (t) => {
  const { twilio, rows, messenger } = await setup(t)
  twilio.invalidNumbers.add(number)
  const error = await messenger.send({ kind: 'phone', value: number }, 'login-code', { code: '123456' }).then(
    () => assert.fail('should not send'),
    (e: unknown) => e,
  )
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, true)
  assert.equal(error.message, "We couldn't send a text to that number — check it or use email.")
  assert.equal(twilio.requests, 1, 'not retried')
  const [row] = await rows()
  assert.equal(row!.status, 'failed')
  assert.match(row!.error!, /^Twilio 21211: /)
  assert.ok(!row!.error!.includes(number), 'the number is masked in the recorded error')
})

test('a 429 with Retry-After is waited out and retried', async (t) => {
  const { twilio, rows, messenger } = await setup(t)
  twilio.script({
    status: 429,
    headers: { 'retry-after': '1' },
    body: { code: 20429, message: 'Too Many Requests', status: 429 },
  })
  const started = Date.now()
  await messenger.send({ kind: 'phone', value: number }, 'login-code', { code: '123456' })
  assert.ok(Date.now() - started >= 1000, 'honoured Retry-After')
  assert.equal(twilio.requests, 2)
  assert.equal(twilio.messages.length, 1)
  const [row] = await rows()
  assert.equal(row!.status, 'queued')
  assert.equal(row!.attempts, 2)
})

test('5xx answers are retried with backoff, then reported as a temporary failure', async (t) => {
  const { twilio, rows, messenger } = await setup(t)
  twilio.script({ status: 500 }, { status: 503 }, { status: 502 }, { status: 500 })
  const started = Date.now()
  const error = await messenger.send({ kind: 'phone', value: number }, 'login-code', { code: '123456' }).then(
    () => assert.fail('should not send'),
    (e: unknown) => e,
  )
  const took = Date.now() - started
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, false)
  assert.match(error.message, /try again in a minute or use email/)
  assert.equal(twilio.requests, 3, 'three attempts, no more')
  assert.ok(took >= 1500 && took < 8000, `backoff 0.5 s then 1 s, within the bound (took ${took} ms)`)
  const [row] = await rows()
  assert.equal(row!.status, 'failed')
  assert.equal(row!.attempts, 3)
  assert.match(row!.error!, /Twilio answered HTTP 502/)
})

test('a Retry-After beyond the time budget gives up at once instead of keeping the person waiting', async (t) => {
  const { twilio, messenger } = await setup(t)
  twilio.script({ status: 429, headers: { 'retry-after': '120' } })
  const started = Date.now()
  await assert.rejects(
    messenger.send({ kind: 'phone', value: number }, 'login-code', { code: '123456' }),
    DeliveryError,
  )
  assert.ok(Date.now() - started < 1000)
  assert.equal(twilio.requests, 1)
})

test('refused credentials are not retried and do not blame the number', async (t) => {
  const twilio = await FakeTwilio.start(t, { ...FAKE_TWILIO, authToken: 'a-different-auth-token-0000' })
  const ctx = await buildTestApp(t, {
    env: { ...twilio.env(), TWILIO_AUTH_TOKEN: FAKE_TWILIO.authToken },
    channelsFromConfig: true,
  })
  const error = await ctx.app.ctx.messenger
    .send({ kind: 'phone', value: number }, 'login-code', { code: '123456' })
    .then(
      () => assert.fail('should not send'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, false)
  assert.equal(twilio.requests, 1)
})
