import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs } from '../server/testing/build-test-app.js'
import { flakyChannel } from '../server/testing/flaky-channel.js'
import { sendReminders } from './send-reminders.task.js'

// The embedded default (and `npm run send-reminders`) send the day's reminders in one run: there is
// no "next run" that day, so a person whose send failed for a moment must be tried again in it.

test('embedded: a reminder whose send failed for a moment (provider timed out) is tried again in the same run, once sent', async (t) => {
  let failures = 1
  const ctx = await buildTestApp(t, {
    env: { REMINDER_MAX_PER_MINUTE: '6000', AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' },
    channels: () => [
      flakyChannel(
        (line) => ctx.outbox.push(line),
        (m) => m.purpose === 'reminder' && m.to.value === 'alice@example.org' && failures-- > 0,
      ),
    ],
  })
  for (const email of ['alice@example.org', 'bob@example.org']) {
    const browser = await loginAs(ctx, email, { firstName: email.slice(0, 3), lastName: 'Test' })
    await browser.post('/sign-in', { day: '2026-11-23' })
  }
  ctx.clock.set('2026-11-23T17:30:00Z')
  // The pause before a retry is a minute in production; none here.
  const result = await sendReminders({ ...ctx.app.ctx, log: ctx.app.log }, { retryPausesMs: [0] })
  const to = ctx.outbox
    .filter((l) => / \(reminder\)/.test(l))
    .map((l) => /message to (\S+)/.exec(l)?.[1])
    .sort()
  assert.deepEqual(to, ['alice@example.org', 'bob@example.org'], 'Alice is reminded after all, Bob once')
  assert.deepEqual(result.outcomes, { sent: 2 }, 'each person counted once, by how it ended')
})
