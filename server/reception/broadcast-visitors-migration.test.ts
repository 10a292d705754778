import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Db } from '../db/connect.js'
import { migrateToLatest, migrator } from '../db/migrate.js'
import { makePerson } from '../testing/factories.js'
import { testDb } from '../testing/test-database.js'

const BEFORE = '202612030900_add_roll_call_visitor_reason'

const recipients = (db: Db) =>
  db
    .selectFrom('broadcast_recipient')
    .select(['id', 'broadcast_id', 'person_id', 'status', 'contact_value', 'answer', 'answered_at'])
    .orderBy('id')
    .execute()

test('letting broadcasts reach visitors keeps every recipient, its answer and the ids (reply links are signed with them)', async (t) => {
  const db = await testDb(t, { migrated: false })
  assert.equal((await migrator(db).migrateTo(BEFORE)).error, undefined)
  const broadcast = await db
    .insertInto('broadcast')
    .values({ template: 'drill', audience: 'inside', message: 'Drill', ask_safety: 1, created_at: 1 })
    .returning('id')
    .executeTakeFirstOrThrow()
  for (let i = 0; i < 5; i++) {
    const person = await makePerson(db, { firstName: `P${i}`, lastName: 'X', email: `p${i}@example.com` })
    await db
      .insertInto('broadcast_recipient')
      .values({
        broadcast_id: broadcast.id,
        person_id: person,
        status: 'sent',
        contact_value: `p${i}@example.com`,
        ...(i === 1 ? { answer: 'safe' as const, answered_at: 2 } : {}),
      } as never)
      .execute()
  }
  // The latest two went (a person removed): the AUTOINCREMENT mark is above the largest id left.
  const all = await recipients(db)
  const highest = all.at(-1)!.id
  await db.deleteFrom('broadcast_recipient').where('id', '>', all[2]!.id).execute()
  const before = await recipients(db)

  const migrated = await migrateToLatest(db)
  assert.equal(migrated.error, undefined, String(migrated.error))
  assert.deepEqual(await recipients(db), before, 'every recipient and answer kept')
  const visitor = await db
    .insertInto('visitor')
    .values({ name: 'Vera Visitor', company: '', signed_in_at: 3, created_at: 3 })
    .returning('id')
    .executeTakeFirstOrThrow()
  const added = await db
    .insertInto('broadcast_recipient')
    .values({ broadcast_id: broadcast.id, person_id: null, visitor_id: visitor.id, status: 'pending' })
    .returning('id')
    .executeTakeFirstOrThrow()
  assert.ok(added.id > highest, `a new recipient never reuses an id (${added.id} after ${highest})`)
  await assert.rejects(
    db
      .insertInto('broadcast_recipient')
      .values({ broadcast_id: broadcast.id, person_id: null, visitor_id: null, status: 'pending' })
      .execute(),
    'a recipient is a person or a visitor',
  )
})
