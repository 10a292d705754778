import assert from 'node:assert/strict'
import { test } from 'node:test'
import { presenceText, retryAfterMs, slackTarget, visitorArrivalText } from './slack.js'

test('Retry-After is read in seconds or as an HTTP date, with a safe default', () => {
  const now = Date.parse('2026-11-23T10:00:00Z')
  assert.equal(retryAfterMs('2', now), 2000)
  assert.equal(retryAfterMs(' 30 ', now), 30_000)
  assert.equal(retryAfterMs('Mon, 23 Nov 2026 10:00:05 GMT', now), 5000)
  assert.equal(retryAfterMs('Mon, 23 Nov 2026 09:00:00 GMT', now), 0)
  assert.equal(retryAfterMs(null, now), 30_000)
  assert.equal(retryAfterMs('soon', now), 30_000)
})

test('texts and targets', () => {
  assert.equal(
    presenceText({ action: 'signed-out', inside: 1 }, 'Bo Li'),
    'Bo Li signed out · 1 person in the building',
  )
  assert.equal(
    presenceText({ action: 'signed-in', inside: 0 }, null),
    'Someone signed in · 0 people in the building',
  )
  assert.match(slackTarget('https://hooks.slack.com/services/T/B/secret'), /^[0-9a-f]{16}$/)
  assert.doesNotMatch(slackTarget('https://hooks.slack.com/services/T/B/secret'), /secret/)
})

test('a visitor arrival post names the entrance, or none for a check-in by invitation link; anonymous mode names nobody', () => {
  const facts = { visitor: 'Vera Visitor', company: 'Acme Ltd', host: 'Zoë Hôst' }
  assert.equal(
    visitorArrivalText({ ...facts, entrance: 'North door' }),
    'Vera Visitor (Acme Ltd) arrived for Zoë Hôst at North door',
  )
  assert.equal(
    visitorArrivalText({ ...facts, entrance: null }),
    'Vera Visitor (Acme Ltd) arrived for Zoë Hôst',
  )
  assert.equal(
    visitorArrivalText({ visitor: null, company: '', host: null, entrance: null }),
    'A visitor arrived',
  )
})
