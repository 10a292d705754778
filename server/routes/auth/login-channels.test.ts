import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, TestBrowser } from '../../testing/build-test-app.js'
import { FAKE_GRAPH, FakeGraph } from '../../testing/fake-graph.js'
import { FakeTwilio } from '../../testing/fake-twilio.js'

const codeIn = (text: string) => /code is (\d{6})/.exec(text)?.[1] ?? assert.fail(`no code in ${text}`)

test('a person logs in by text message through Twilio, end to end', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const browser = new TestBrowser(ctx.app)
  const page = await browser.get('/login')
  assert.match(page.body, />Mobile number</, 'only texts are offered')
  const sent = await browser.post('/login/code', { contact: '07400 123456' })
  assert.equal(sent.statusCode, 303)
  await browser.get('/login/verify')
  const sms = twilio.lastTo('+447400123456')!
  assert.match(sms.body, /@register\.test #\d{6}$/)
  const done = await browser.post('/login/verify', {
    code: codeIn(sms.body),
    firstName: 'Sam',
    lastName: 'Reed',
  })
  assert.equal(done.statusCode, 303)
  assert.match((await browser.follow(done)).body, /Welcome, Sam/)

  // A second login is recorded against the person it now belongs to.
  const again = new TestBrowser(ctx.app, '198.51.100.9')
  await again.get('/login')
  await again.post('/login/code', { contact: '+44 7400 123456' })
  const rows = await ctx.app.ctx.db.selectFrom('message').selectAll().orderBy('id').execute()
  assert.deepEqual(
    rows.map((r) => [r.channel, r.status, r.person_id === null]),
    [
      ['twilio', 'queued', true],
      ['twilio', 'queued', false],
    ],
  )
})

test('a person logs in by email through Microsoft Graph, end to end', async (t) => {
  const graph = await FakeGraph.start(t)
  const ctx = await buildTestApp(t, { env: graph.env(), channelsFromConfig: true })
  const browser = new TestBrowser(ctx.app)
  const page = await browser.get('/login')
  assert.match(page.body, />Email address</, 'only email is offered')
  assert.doesNotMatch(page.body, /mobile number/i)
  assert.equal((await browser.post('/login/code', { contact: 'Pat@Example.org' })).statusCode, 303)
  await browser.get('/login/verify')
  const mail = graph.lastTo('pat@example.org')!
  assert.equal(mail.sender, FAKE_GRAPH.sender)
  const done = await browser.post('/login/verify', {
    code: />(\d{6})<\/p>/.exec(mail.content)![1]!,
    firstName: 'Pat',
    lastName: 'Lee',
  })
  assert.equal(done.statusCode, 303)
  assert.match((await browser.follow(done)).body, /Welcome, Pat/)
})

test('with both providers set up, the login page offers both and each contact goes to its provider', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const graph = await FakeGraph.start(t)
  const ctx = await buildTestApp(t, { env: { ...twilio.env(), ...graph.env() }, channelsFromConfig: true })
  const browser = new TestBrowser(ctx.app)
  assert.match((await browser.get('/login')).body, />Email address or mobile number</)
  await browser.post('/login/code', { contact: 'kim@example.org' })
  await browser.get('/login')
  await browser.post('/login/code', { contact: '07400 654321' })
  assert.equal(graph.mails.length, 1)
  assert.equal(twilio.messages.length, 1)
})

test('a contact kind no provider serves is refused with a clear message and nothing is sent', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  const refused = await browser.post('/login/code', { contact: 'kim@example.org' })
  assert.equal(refused.statusCode, 422)
  assert.match(refused.body, /Use your mobile number: this site cannot send emails/)
  assert.equal(twilio.requests, 0)
})

test('a number Twilio rejects gets an honest 422, and the code that was never received is dead', async (t) => {
  const twilio = await FakeTwilio.start(t)
  twilio.invalidNumbers.add('+447400123456')
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  const refused = await browser.post('/login/code', { contact: '07400 123456' })
  assert.equal(refused.statusCode, 422)
  assert.match(refused.body, /We couldn(&#39;|')t send a text to that number — check it or use email/)
  assert.match(refused.body, /value="07400 123456"/, 'input stays filled in')
  const codes = await ctx.app.ctx.db.selectFrom('login_code').selectAll().execute()
  assert.equal(codes.length, 1)
  assert.notEqual(codes[0]!.consumed_at, null, 'the code was killed')
  const verify = await browser.get('/login/verify')
  assert.equal(verify.statusCode, 303, 'no code page for a code that was not sent')
})

test('a Twilio outage gets a 503 with a temporary message, never a 500', async (t) => {
  const twilio = await FakeTwilio.start(t)
  twilio.script({ status: 503 }, { status: 503 }, { status: 503 })
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const browser = new TestBrowser(ctx.app)
  await browser.get('/login')
  const down = await browser.post('/login/code', { contact: '07400 123456' })
  assert.equal(down.statusCode, 503)
  assert.match(down.body, /try again in a minute or use email/)
  const codes = await ctx.app.ctx.db.selectFrom('login_code').selectAll().execute()
  assert.notEqual(codes[0]!.consumed_at, null)
})

test('a Graph token that expired between logins is renewed without the person noticing', async (t) => {
  const graph = await FakeGraph.start(t)
  const ctx = await buildTestApp(t, { env: graph.env(), channelsFromConfig: true })
  const first = new TestBrowser(ctx.app)
  await first.get('/login')
  await first.post('/login/code', { contact: 'ann@example.org' })
  graph.expireTokens()
  const second = new TestBrowser(ctx.app, '198.51.100.20')
  await second.get('/login')
  const sent = await second.post('/login/code', { contact: 'bea@example.org' })
  assert.equal(sent.statusCode, 303)
  assert.ok(graph.lastTo('bea@example.org'))
  assert.equal(graph.tokens.length, 2)
})
