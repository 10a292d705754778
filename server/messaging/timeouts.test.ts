import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FAKE_GRAPH, FakeGraph } from '../testing/fake-graph.js'
import { FAKE_TWILIO, FakeTwilio } from '../testing/fake-twilio.js'
import { DeliveryError } from './channel.js'
import { graphChannel } from './graph.channel.js'
import { Messenger } from './messenger.js'
import { twilioChannel } from './twilio.channel.js'

const site = { siteName: 'Test Office', publicUrl: 'https://register.example.org' }

test('a Twilio request that hangs times out and is retried', async (t) => {
  const twilio = await FakeTwilio.start(t)
  twilio.script({ status: 201, delayMs: 1_500 })
  const channel = twilioChannel({
    ...FAKE_TWILIO,
    statusCallbackUrl: 'https://register.example.org/webhooks/twilio/status',
    apiBaseUrl: twilio.url,
    timeoutMs: 200,
  })
  const messenger = new Messenger([channel], site)
  const sent = await messenger.send({ kind: 'phone', value: '+447400123456' }, 'login-code', {
    code: '123456',
  })
  assert.equal(sent.attempts, 2)
  assert.equal(twilio.messages.length, 1)
  assert.match(twilio.messages[0]!.body, /Test Office code is 123456/)
  assert.match(twilio.messages[0]!.body, /@register\.example\.org #123456$/)
})

test('a Graph request that hangs times out and is retried; one that never answers gives up in time', async (t) => {
  const graph = await FakeGraph.start(t)
  const channel = graphChannel({
    ...FAKE_GRAPH,
    apiBaseUrl: graph.url,
    loginBaseUrl: graph.url,
    timeoutMs: 200,
  })
  const messenger = new Messenger([channel], site, {
    retry: { attempts: 3, budgetMs: 2_000, baseDelayMs: 100 },
  })
  graph.script({ status: 202, delayMs: 1_000 })
  const sent = await messenger.send({ kind: 'email', value: 'kim@example.org' }, 'login-code', {
    code: '123456',
  })
  assert.equal(sent.attempts, 2)
  assert.equal(graph.lastTo('kim@example.org')?.subject, 'Your Test Office code: 123456')

  graph.script(
    { status: 202, delayMs: 1_000 },
    { status: 202, delayMs: 1_000 },
    { status: 202, delayMs: 1_000 },
  )
  const started = Date.now()
  const error = await messenger
    .send({ kind: 'email', value: 'kim@example.org' }, 'login-code', { code: '654321' })
    .then(
      () => assert.fail('should not send'),
      (e: unknown) => e,
    )
  assert.ok(error instanceof DeliveryError)
  assert.equal(error.permanent, false)
  assert.ok(Date.now() - started < 2_000, 'within the time budget')
})
