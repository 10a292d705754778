import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FAKE_GRAPH, FakeGraph } from '../testing/fake-graph.js'
import { FAKE_TWILIO, FakeTwilio } from '../testing/fake-twilio.js'
import { DeliveryError } from './channel.js'
import { graphChannel } from './graph.channel.js'
import { Messenger } from './messenger.js'
import { twilioChannel } from './twilio.channel.js'

const site = { siteName: 'Test Office', publicUrl: 'https://register.example.org' }

/** A messenger sending through the real Graph channel to the fake, with these limits. */
const graphMessenger = (graph: FakeGraph, limits: { timeoutMs: number; budgetMs: number }) =>
  new Messenger(
    [
      graphChannel({
        ...FAKE_GRAPH,
        apiBaseUrl: graph.url,
        loginBaseUrl: graph.url,
        timeoutMs: limits.timeoutMs,
      }),
    ],
    site,
    { retry: { attempts: 3, budgetMs: limits.budgetMs, baseDelayMs: 100 } },
  )

// The fakes hang for good (not "for a while"), and the limits are generous, so a loaded machine
// cannot turn a slow answer into a timeout or a timeout into an answer. The test timeouts only turn
// a hang without the limits into a failure.

test('a Twilio request that hangs times out and is retried', { timeout: 60_000 }, async (t) => {
  const twilio = await FakeTwilio.start(t)
  twilio.script({ status: 201, hang: true })
  const channel = twilioChannel({
    ...FAKE_TWILIO,
    statusCallbackUrl: 'https://register.example.org/webhooks/twilio/status',
    apiBaseUrl: twilio.url,
    timeoutMs: 1_000,
  })
  const messenger = new Messenger([channel], site, {
    retry: { attempts: 3, budgetMs: 30_000, baseDelayMs: 100 },
  })
  const sent = await messenger.send({ kind: 'phone', value: '+447400123456' }, 'login-code', {
    code: '123456',
  })
  assert.equal(sent.attempts, 2)
  assert.equal(twilio.messages.length, 1)
  assert.match(twilio.messages[0]!.body, /Test Office code is 123456/)
  assert.match(twilio.messages[0]!.body, /@register\.example\.org #123456$/)
})

test('a Graph request that hangs times out and is retried', { timeout: 60_000 }, async (t) => {
  const graph = await FakeGraph.start(t)
  const messenger = graphMessenger(graph, { timeoutMs: 1_000, budgetMs: 30_000 })
  graph.script({ status: 202, hang: true })
  const sent = await messenger.send({ kind: 'email', value: 'kim@example.org' }, 'login-code', {
    code: '123456',
  })
  assert.equal(sent.attempts, 2)
  assert.equal(graph.lastTo('kim@example.org')?.subject, 'Your Test Office code: 123456')
})

test('a send that never answers gives up when the time budget runs out, even if the channel would wait on', {
  timeout: 30_000,
}, async (t) => {
  const graph = await FakeGraph.start(t)
  // The channel's own limit is far away: only the messenger's budget can end this send.
  const messenger = graphMessenger(graph, { timeoutMs: 600_000, budgetMs: 1_500 })
  graph.script({ status: 202, hang: true }, { status: 202, hang: true }, { status: 202, hang: true })
  const error = await messenger
    .send({ kind: 'email', value: 'kim@example.org' }, 'login-code', { code: '654321' })
    .then(
      () => assert.fail('should not send'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof DeliveryError, String(error))
  assert.equal(error.permanent, false)
  assert.match(error.detail ?? '', /no answer within the time limit/)
  assert.equal(graph.lastTo('kim@example.org'), undefined)
})
