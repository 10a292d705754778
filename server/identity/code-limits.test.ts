import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs, TestBrowser } from '../testing/build-test-app.js'
import { CONTACT_CODE_LIMIT, IP_UNKNOWN_CODE_LIMIT, requestCode } from './code.service.js'

const office = '203.0.113.77'
const context = { ip: office, userAgent: 'test' }
const refused = (status: number, message: RegExp) => (e: Error & { statusCode?: number }) =>
  e.statusCode === status && message.test(e.message)
/** A distinct valid UK mobile number. */
const mobile = (i: number) => `+447400${String(100_000 + i)}`

test('roll-out day: 200 people on one office network ask for codes within 15 minutes and all get one', async (t) => {
  const ctx = await buildTestApp(t)
  const everyone = Array.from({ length: 200 }, (_, i) => (i % 2 ? mobile(i) : `person${i}@example.org`))
  for (const [i, contact] of everyone.entries()) {
    ctx.clock.advance(4_500) // 200 × 4.5 s = 15 minutes
    if (i < 60) {
      // Some through the login page, as people do on their phones…
      const browser = new TestBrowser(ctx.app, office)
      await browser.get('/login')
      const sent = await browser.post('/login/code', { contact })
      assert.equal(sent.statusCode, 303, `person ${i}: ${sent.statusCode} ${browser.lastHtml.slice(0, 300)}`)
    } else {
      // …and the rest through the app's JSON API.
      const sent = await ctx.app.inject({
        method: 'POST',
        url: '/api/v1/auth/code',
        payload: { contact },
        remoteAddress: office,
      })
      assert.equal(sent.statusCode, 202, `person ${i}: ${sent.body}`)
    }
    assert.match(ctx.lastCode(contact), /^\d{6}$/)
  }
})

test('on the same network the per-contact limit still holds', async (t) => {
  const ctx = await buildTestApp(t)
  for (let i = 0; i < CONTACT_CODE_LIMIT.max; i++) {
    await requestCode(ctx.app.ctx.identity, { contact: mobile(1), purpose: 'login', context })
  }
  await assert.rejects(
    requestCode(ctx.app.ctx.identity, { contact: mobile(1), purpose: 'login', context }),
    refused(429, /for this contact/),
  )
})

test('one address may ask for codes for a bounded number of unknown contacts; known people are not held back', async (t) => {
  const ctx = await buildTestApp(t)
  const known = await loginAs(ctx, 'known@example.org')
  assert.ok(known)
  const { identity } = ctx.app.ctx
  for (let i = 0; i < IP_UNKNOWN_CODE_LIMIT.max; i++) {
    await requestCode(identity, { contact: `stranger${i}@example.org`, purpose: 'login', context })
  }
  await assert.rejects(
    requestCode(identity, { contact: 'one-more@example.org', purpose: 'login', context }),
    refused(429, /from your network/),
  )
  await requestCode(identity, { contact: 'known@example.org', purpose: 'login', context })
  await requestCode(identity, {
    contact: 'elsewhere@example.org',
    purpose: 'login',
    context: { ...context, ip: '198.51.100.1' },
  })
  ctx.clock.advance(IP_UNKNOWN_CODE_LIMIT.windowMs)
  await requestCode(identity, { contact: 'later@example.org', purpose: 'login', context })
})

test('texts go only to mobile numbers in the allowed countries: no satellite, premium or personal numbers', async (t) => {
  const ctx = await buildTestApp(t)
  const { identity } = ctx.app.ctx
  const ask = (contact: string) => requestCode(identity, { contact, purpose: 'login', context })
  await assert.rejects(ask('+881631234567'), refused(400, /only to mobile numbers in the United Kingdom/))
  await assert.rejects(ask('+870773111632'), refused(400, /only to mobile numbers in the United Kingdom/))
  await assert.rejects(ask('+33612345678'), refused(400, /only to mobile numbers in the United Kingdom/))
  await assert.rejects(ask('+447012345678'), refused(400, /mobile/))
  await assert.rejects(ask('+449098790000'), refused(400, /./))
  assert.equal(ctx.outbox.length, 0, 'nothing was sent')
  await ask(mobile(5))
  assert.equal(ctx.outbox.length, 1)

  const france = await buildTestApp(t, { env: { SMS_ALLOWED_COUNTRIES: 'GB, FR' } })
  await requestCode(france.app.ctx.identity, { contact: '+33612345678', purpose: 'login', context })
  assert.match(france.lastCode('+33612345678'), /^\d{6}$/)
  await assert.rejects(
    requestCode(france.app.ctx.identity, { contact: '+4915112345678', purpose: 'login', context }),
    refused(400, /United Kingdom or France/),
  )
})

test('the hourly text budget stops codes to unknown numbers, alerts the admins once, and spares known people', async (t) => {
  const ctx = await buildTestApp(t, {
    env: { SMS_CODES_PER_HOUR: '5', ADMIN_CONTACTS: 'admin@example.org' },
  })
  await loginAs(ctx, 'admin@example.org', { firstName: 'Ada', lastName: 'Admin' })
  await loginAs(ctx, mobile(900), { firstName: 'Kim', lastName: 'Known' })
  const { identity } = ctx.app.ctx
  const ask = (contact: string, ip = office) =>
    requestCode(identity, { contact, purpose: 'login', context: { ip, userAgent: 'test' } })
  for (let i = 0; i < 4; i++) await ask(mobile(i), `198.51.100.${i}`) // 5 texts with Kim's
  const alerts = () =>
    ctx.outbox.filter((line) => line.startsWith('message to admin@example.org (sms-budget)'))
  assert.equal(alerts().length, 0)
  await assert.rejects(ask(mobile(10), '198.51.100.50'), refused(429, /texts.*paused/i))
  await assert.rejects(ask(mobile(11), '198.51.100.51'), refused(429, /texts.*paused/i))
  assert.equal(alerts().length, 1, 'the admins are told once')
  assert.match(alerts()[0]!, /5 codes by text in the last hour/)

  await ask(mobile(900), '198.51.100.60')
  assert.match(ctx.lastCode(mobile(900)), /^\d{6}$/, 'a known person still gets a code by text')
  await ask('new-by-email@example.org')
  assert.match(ctx.lastCode('new-by-email@example.org'), /^\d{6}$/, 'email is not part of the text budget')

  ctx.clock.advance(60 * 60_000)
  await ask(mobile(12))
  assert.match(ctx.lastCode(mobile(12)), /^\d{6}$/, 'the budget is per hour')
})
