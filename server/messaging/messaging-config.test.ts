import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigError, loadConfig } from '../config.js'
import { FAKE_GRAPH } from '../testing/fake-graph.js'
import { FAKE_TWILIO } from '../testing/fake-twilio.js'
import { channelsFromConfig } from './channels.js'

const base = { NODE_ENV: 'test', SESSION_SECRET: 'x'.repeat(40), DATABASE_PATH: ':memory:' }

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig({ ...base, ...env })
    return []
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
}

test('complete Twilio and Graph settings are accepted', () => {
  assert.deepEqual(
    problems({
      TWILIO_ACCOUNT_SID: FAKE_TWILIO.accountSid,
      TWILIO_AUTH_TOKEN: FAKE_TWILIO.authToken,
      TWILIO_FROM: '+447700900123',
      GRAPH_TENANT_ID: FAKE_GRAPH.tenantId,
      GRAPH_CLIENT_ID: FAKE_GRAPH.clientId,
      GRAPH_CLIENT_SECRET: FAKE_GRAPH.clientSecret,
      GRAPH_SENDER: FAKE_GRAPH.sender,
    }),
    [],
  )
  assert.deepEqual(problems({}), [], 'no provider at all is fine: the console channel serves')
})

test('half a Twilio configuration is refused at start with what is missing', () => {
  const onlySid = problems({ TWILIO_ACCOUNT_SID: FAKE_TWILIO.accountSid })
  assert.ok(
    onlySid.some((p) => p.startsWith('TWILIO_AUTH_TOKEN: required')),
    onlySid.join('\n'),
  )
  const noSender = problems({
    TWILIO_ACCOUNT_SID: FAKE_TWILIO.accountSid,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO.authToken,
  })
  assert.ok(
    noSender.some((p) => p.includes('TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM')),
    noSender.join('\n'),
  )
  const senderOnly = problems({ TWILIO_FROM: 'Register' })
  assert.ok(
    senderOnly.some((p) => p.includes('TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN')),
    senderOnly.join('\n'),
  )
  const both = problems({
    TWILIO_ACCOUNT_SID: FAKE_TWILIO.accountSid,
    TWILIO_AUTH_TOKEN: FAKE_TWILIO.authToken,
    TWILIO_FROM: 'Register',
    TWILIO_MESSAGING_SERVICE_SID: FAKE_TWILIO.messagingServiceSid,
  })
  assert.ok(
    both.some((p) => p.includes('not both')),
    both.join('\n'),
  )
})

test('malformed Twilio values are explained', () => {
  assert.ok(
    problems({ TWILIO_ACCOUNT_SID: 'SK123' }).some((p) => p.startsWith('TWILIO_ACCOUNT_SID: must be')),
  )
  assert.ok(
    problems({ TWILIO_FROM: 'Far too long a name' }).some((p) => p.startsWith('TWILIO_FROM: must be')),
  )
  assert.ok(
    problems({ TWILIO_FROM: '12345' }).some((p) => p.startsWith('TWILIO_FROM: must be')),
    'digits only is no sender ID',
  )
})

test('half a Graph configuration is refused at start with what is missing', () => {
  const partial = problems({ GRAPH_TENANT_ID: FAKE_GRAPH.tenantId, GRAPH_CLIENT_ID: FAKE_GRAPH.clientId })
  assert.ok(
    partial.some((p) => p.startsWith('GRAPH_CLIENT_SECRET, GRAPH_SENDER: required to send email')),
    partial.join('\n'),
  )
  assert.ok(problems({ GRAPH_SENDER: 'not an address' }).some((p) => p.startsWith('GRAPH_SENDER: must be')))
})

test('in production with no SMS or email provider, start-up warns that messages, login codes included, go to the log', async () => {
  const warnings: string[] = []
  const log = { info: () => {}, warn: (message: string) => warnings.push(message) }
  const production = loadConfig({ ...base, NODE_ENV: 'production', PUBLIC_URL: 'https://r.example.org' })
  await channelsFromConfig(production, log)
  assert.equal(warnings.length, 1, 'one warning')
  assert.match(warnings[0]!, /login codes.*log.*TWILIO_.*GRAPH_/)
  warnings.length = 0
  // The first run (`npm install && npm start`) reads its codes from the log: no warning there.
  await channelsFromConfig(loadConfig({ ...base, NODE_ENV: 'development' }), log)
  assert.deepEqual(warnings, [])
  await channelsFromConfig(
    loadConfig({
      ...base,
      NODE_ENV: 'production',
      PUBLIC_URL: 'https://r.example.org',
      TWILIO_ACCOUNT_SID: FAKE_TWILIO.accountSid,
      TWILIO_AUTH_TOKEN: FAKE_TWILIO.authToken,
      TWILIO_FROM: '+447700900123',
    }),
    log,
  )
  assert.deepEqual(warnings, [], 'a provider: nothing to warn about')
})
