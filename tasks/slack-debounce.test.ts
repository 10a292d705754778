// Its own file, so its own process: this test replaces the global setTimeout and clearTimeout, and
// in a process where earlier tests left keep-alive connections (undici's, to the fake Slack), the
// mocked clearTimeout cannot cancel their real timers, which then fire on a connection already
// collected and throw in the middle of the run (undici#4755; a CI failure of slack.test.ts).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, noSchedules } from '../server/testing/build-test-app.js'
import { burst, outboxRows } from '../server/testing/door-burst.js'
import { EMBEDDED_RELAY_DEBOUNCE_MS } from './embedded.js'

test('embedded default: taps in quick succession are handed on in one pass a moment later, not one write per tap', async (t) => {
  // The app's timers are the test's: the pass after a burst runs when the test moves the clock,
  // never early or late because the machine is busy.
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] })
  const ctx = await buildTestApp(t, { env: noSchedules, embeddedJobs: true })
  const { people } = await burst(ctx, 10)
  for (const browser of people) await browser.post('/sign-in', { day: '2026-11-23' })
  const before = await outboxRows(ctx)
  assert.equal(before.length, 10)
  assert.deepEqual(
    before.filter((r) => r.relayed_at !== null).map((r) => r.id),
    [],
    'nothing is handed on tap by tap',
  )
  t.mock.timers.tick(EMBEDDED_RELAY_DEBOUNCE_MS)
  // Waits for the pass the debounce started.
  await ctx.app.embeddedJobs!.relayNow()
  t.mock.timers.reset()
  const rows = await outboxRows(ctx)
  assert.ok(
    rows.every((r) => r.relayed_at !== null),
    'all handed on without being asked',
  )
  const passes = new Set(rows.map((r) => r.relayed_at)).size
  assert.equal(passes, 1, `handed on in ${passes} passes, not one per tap`)
})
