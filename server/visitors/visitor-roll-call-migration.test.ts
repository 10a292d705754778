import assert from 'node:assert/strict'
import { test } from 'node:test'
import { migrateToLatest, migrator } from '../db/migrate.js'
import { makePerson } from '../testing/factories.js'
import { testDb } from '../testing/test-database.js'
import { listVisitorRollCallLines, visitorLineStanding } from './visitor-roll-call.repository.js'

const BEFORE = '202612031900_add_visit_signed_in_again_at'
const START = Date.parse('2026-12-03T10:00:00Z')

test('visitors already on a roll call before added_after_start_at existed were on the list when it started', async (t) => {
  const db = await testDb(t, { migrated: false })
  assert.equal((await migrator(db).migrateTo(BEFORE)).error, undefined)
  const marshal = await makePerson(db, { firstName: 'Rita', lastName: 'Desk', email: 'rita@example.org' })
  const rollCall = await db
    .insertInto('roll_call')
    .values({ kind: 'real', started_at: START, started_by: marshal, ended_at: null, ended_by: null })
    .returning('id')
    .executeTakeFirstOrThrow()
  const visitors: number[] = []
  for (const [i, name] of ['Sal Safe', 'Hal Helpbefore'].entries()) {
    const visitor = await db
      .insertInto('visitor')
      .values({ name, company: '', signed_in_at: START - 3_600_000, created_at: START - 3_600_000 })
      .returning('id')
      .executeTakeFirstOrThrow()
    visitors.push(visitor.id)
    await db
      .insertInto('roll_call_visitor')
      .values({
        roll_call_id: rollCall.id,
        visitor_id: visitor.id,
        name,
        company: '',
        host_name: '',
        phone: null,
        signed_in_at: START - 3_600_000,
        marked_by: null,
        marked_at: i === 1 ? START + 60_000 : null,
        ...(i === 1 ? { status: 'help' as const, via: 'self' as const } : {}),
      })
      .execute()
  }

  const migrated = await migrateToLatest(db)
  assert.equal(migrated.error, undefined, String(migrated.error))
  const lines = (await listVisitorRollCallLines(db, rollCall.id)).sort((a, b) => a.visitorId - b.visitorId)
  assert.deepEqual(
    lines.map((l) => [l.name, l.status, l.onSnapshot]),
    [
      ['Sal Safe', 'unaccounted', true],
      ['Hal Helpbefore', 'help', true],
    ],
    'every existing line kept, on the list',
  )
  for (const id of visitors) assert.equal(await visitorLineStanding(db, rollCall.id, id), 'on-list')
})
