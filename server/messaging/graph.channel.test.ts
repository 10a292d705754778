import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../testing/build-test-app.js'
import { FAKE_GRAPH, FakeGraph } from '../testing/fake-graph.js'
import { DeliveryError } from './channel.js'

const address = 'alice@example.org'

async function setup(t: import('node:test').TestContext, env: Record<string, string> = {}) {
  const graph = await FakeGraph.start(t)
  const ctx = await buildTestApp(t, { env: { ...graph.env(), ...env }, channelsFromConfig: true })
  const rows = () => ctx.app.ctx.db.selectFrom('message').selectAll().orderBy('id').execute()
  return { graph, ctx, rows, messenger: ctx.app.ctx.messenger }
}

test('an email goes out through sendMail with an app-only token, HTML body, not kept in Sent Items', async (t) => {
  const { graph, rows, messenger } = await setup(t)
  assert.deepEqual(messenger.kinds, ['email'], 'only email is offered when only Graph is set up')
  await messenger.send({ kind: 'email', value: address }, 'login-code', { code: '123456' })
  const mail = graph.lastTo(address)!
  assert.ok(mail, 'Graph received the email')
  assert.equal(mail.sender, FAKE_GRAPH.sender)
  assert.equal(mail.subject, 'Your Building Register code: 123456')
  assert.equal(mail.contentType, 'HTML')
  assert.match(mail.content, /letter-spacing[^>]*>123456</)
  assert.match(mail.content, /href="http:\/\/register\.test"/)
  assert.equal(mail.saveToSentItems, false)
  assert.equal(graph.tokens.length, 1)
  const [row] = await rows()
  assert.equal(row!.channel, 'graph')
  assert.equal(row!.status, 'sent')
  assert.equal(row!.attempts, 1)
})

test('the token is reused, and renewed once when Graph says it expired (401)', async (t) => {
  const { graph, rows, messenger } = await setup(t)
  await messenger.send({ kind: 'email', value: address }, 'login-code', { code: '111111' })
  await messenger.send({ kind: 'email', value: address }, 'login-code', { code: '222222' })
  assert.equal(graph.tokens.length, 1, 'cached token reused')
  graph.expireTokens()
  await messenger.send({ kind: 'email', value: address }, 'login-code', { code: '333333' })
  assert.equal(graph.tokens.length, 2, 'a new token was fetched')
  assert.equal(graph.sendRequests, 4, 'refused once, then sent')
  assert.equal(graph.mails.length, 3)
  assert.match(graph.lastTo(address)!.subject, /333333/)
  const statuses = (await rows()).map((r) => r.status)
  assert.deepEqual(statuses, ['sent', 'sent', 'sent'])
})

test('a rejected recipient is a permanent failure with a message the person can act on', async (t) => {
  const { graph, rows, messenger } = await setup(t)
  graph.script({
    status: 400,
    body: { error: { code: 'ErrorInvalidRecipients', message: 'Recipient not valid.' } },
  })
  const error = await messenger
    .send({ kind: 'email', value: address }, 'login-code', { code: '123456' })
    .then(
      () => assert.fail('should not send'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, true)
  assert.match(error.message, /couldn't send an email to that address/)
  const [row] = await rows()
  assert.equal(row!.status, 'failed')
  assert.match(row!.error!, /ErrorInvalidRecipients/)
})

test('throttling (429) is retried after Retry-After; an outage (503) is retried then reported', async (t) => {
  const { graph, rows, messenger } = await setup(t)
  graph.script({
    status: 429,
    headers: { 'retry-after': '1' },
    body: { error: { code: 'TooManyRequests', message: 'Slow down' } },
  })
  const started = Date.now()
  await messenger.send({ kind: 'email', value: address }, 'login-code', { code: '123456' })
  assert.ok(Date.now() - started >= 1000)
  assert.equal(graph.mails.length, 1)

  graph.script({ status: 503 }, { status: 503 }, { status: 503 })
  const error = await messenger
    .send({ kind: 'email', value: address }, 'login-code', { code: '654321' })
    .then(
      () => assert.fail('should not send'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, false)
  const rowsNow = await rows()
  assert.deepEqual(
    rowsNow.map((r) => [r.status, r.attempts]),
    [
      ['sent', 2],
      ['failed', 3],
    ],
  )
})

test('a wrong client secret is reported as our problem, once, without retrying', async (t) => {
  const { graph, rows, messenger } = await setup(t, { GRAPH_CLIENT_SECRET: 'not-the-secret' })
  const error = await messenger
    .send({ kind: 'email', value: address }, 'login-code', { code: '123456' })
    .then(
      () => assert.fail('should not send'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, false)
  assert.equal(graph.sendRequests, 0)
  const [row] = await rows()
  assert.equal(row!.attempts, 1)
  assert.match(row!.error!, /invalid_client/)
  assert.ok(!row!.error!.includes('not-the-secret'), 'the secret is never recorded')
})
