import assert from 'node:assert/strict'
import { test } from 'node:test'
import { planOf } from '../testing/query-plan.js'
import { testDb } from '../testing/test-database.js'
import { visitorsAutoClosedSinceQuery } from '../visitors/visitor.repository.js'
import { autoClosedSinceQuery } from './presence.repository.js'

// Every read of the fire list (the board, the presence API, a roll call's start) looks for visits
// closed unseen in the last hours: among a year of visits, a scan of all of them took 85 ms a read
// with a million (bench seed), on every change.
test('the fire list finds visits and visitors closed unseen through an index, not by scanning every visit', async (t) => {
  const db = await testDb(t)
  const since = Date.now() - 12 * 3_600_000
  const staff = await planOf(db, autoClosedSinceQuery(db, since))
  assert.match(staff, /visit_closed_unseen/, staff)
  const visitors = await planOf(db, visitorsAutoClosedSinceQuery(db, since))
  assert.match(visitors, /visitor_closed_unseen/, visitors)
})
