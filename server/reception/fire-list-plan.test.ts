import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type Compilable, CompiledQuery, sql } from 'kysely'
import { type Db, dialectOf } from '../db/connect.js'
import { testDb } from '../testing/test-database.js'
import { visitorsAutoClosedSinceQuery } from '../visitors/visitor.repository.js'
import { autoClosedSinceQuery } from './presence.repository.js'

/**
 * The query plan of `query` as text. On PostgreSQL with sequential scans discouraged: the test
 * tables are tiny, where a scan is the planner's right choice; this asks whether an index can serve.
 */
async function planOf(db: Db, query: Compilable<unknown>): Promise<string> {
  const { sql: text, parameters } = query.compile()
  const postgres = dialectOf(db) === 'postgres'
  return db.transaction().execute(async (trx) => {
    if (postgres) await sql`set local enable_seqscan = off`.execute(trx)
    const explain = CompiledQuery.raw(`${postgres ? 'explain' : 'explain query plan'} ${text}`, [
      ...parameters,
    ])
    const { rows } = await trx.executeQuery<Record<string, string>>(explain)
    return rows.map((r) => (postgres ? r['QUERY PLAN'] : r.detail)).join('\n')
  })
}

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
