import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { buildApp } from '../app.js'
import { TestBrowser, TestClock, testConfig } from '../testing/build-test-app.js'
import { FAKE_GRAPH, FakeGraph } from '../testing/fake-graph.js'
import { FAKE_TWILIO, FakeTwilio } from '../testing/fake-twilio.js'
import { testDatabase } from '../testing/test-database.js'

test('logs show masked contacts and never a secret, a token or a code', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const graph = await FakeGraph.start(t)
  twilio.invalidNumbers.add('+447400000111')
  const lines: string[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  const database = await testDatabase()
  const app = await buildApp(testConfig({ ...database.env, ...twilio.env(), ...graph.env() }), {
    clock: new TestClock(),
    logger: { level: 'trace', stream },
  })
  t.after(async () => {
    await app.close()
    await database.drop()
  })
  const browser = new TestBrowser(app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: '07400 123456' })
  await browser.get('/login')
  await browser.post('/login/code', { contact: '07400 000111' })
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'lee@example.org' })

  const log = lines.join('')
  assert.match(log, /"to":"\+44•+456"/, 'the recipient is logged masked')
  assert.match(log, /message not delivered/)
  const code = /code is (\d{6})/.exec(twilio.lastTo('+447400123456')!.body)![1]!
  for (const secret of [
    FAKE_TWILIO.authToken,
    FAKE_GRAPH.clientSecret,
    ...graph.tokens,
    '+447400123456',
    '+447400000111',
    'lee@example.org',
  ]) {
    assert.ok(!log.includes(secret), `log must not contain ${secret}`)
  }
  assert.doesNotMatch(log, new RegExp(`(?<![0-9.])${code}(?![0-9])`), 'the code is not logged')
})
