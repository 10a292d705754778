import assert from 'node:assert/strict'
import { test } from 'node:test'
import { planOf } from '../testing/query-plan.js'
import { testDb } from '../testing/test-database.js'
import { dismissedSavedSignInsQuery, refusedSavedSignInsQuery } from './refused-sign-in.service.js'

// Reception's board reads the kiosk sign-ins refused in the last day on every refresh: by time
// alone, that walked every audit row of the day (every tap writes one; 6–8 ms with 20,000).
test('the board finds refused saved sign-ins through an index of their own, not every audit row of the day', async (t) => {
  const db = await testDb(t)
  const plan = await planOf(db, refusedSavedSignInsQuery(db, Date.now() - 86_400_000))
  assert.match(plan, /audit_event_saved_sign_in_refused/, plan)
})

// Only on a day with a refusal on the board, from the first one shown: the removals of notices at
// kiosks, through an index of their own too, not every audit row since.
test('the board finds removed notices through an index of their own, not every audit row since the first refusal', async (t) => {
  const db = await testDb(t)
  const plan = await planOf(db, dismissedSavedSignInsQuery(db, Date.now() - 86_400_000))
  assert.match(plan, /audit_event_saved_sign_in_dismissed/, plan)
})
