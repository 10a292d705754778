import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import { migrateToLatest, migrator } from '../db/migrate.js'
import { makePerson, makeVisit } from '../testing/factories.js'
import { testDb, testDialect } from '../testing/test-database.js'
import { countPeopleInside } from './visit.repository.js'

const BEFORE = '202612020300_add_person_erased_at'
const DAY = 86_400_000
const START = Date.parse('2026-11-01T08:00:00Z')

/** Everything that points at a visit, as comparable rows. */
async function referencing(db: Db) {
  const reminders = await db.selectFrom('reminder').select(['id', 'visit_id']).orderBy('id').execute()
  const doors = await db
    .selectFrom('visit_at_door')
    .select(['visit_id', 'action', 'at'])
    .orderBy('visit_id')
    .orderBy('action')
    .execute()
  return { reminders, doors }
}

// The columns the widening migrations rebuilt; later migrations add others (closed_at, null on these).
const allVisits = (db: Db) =>
  db
    .selectFrom('visit')
    .select(['id', 'person_id', 'signed_in_at', 'signed_out_at', 'closed_by'])
    .orderBy('id')
    .execute()

test('widening visit.closed_by keeps every visit, every row pointing at one, the counter and the ids', async (t) => {
  const db = await testDb(t, { migrated: false })
  assert.equal((await migrator(db).migrateTo(BEFORE)).error, undefined)

  // A populated register: 40 people, 10 days each, every fourth person still inside, reminders and
  // door records on many visits; the latest visits purged so the AUTOINCREMENT mark is above max(id).
  const people: number[] = []
  for (let p = 0; p < 40; p++) {
    people.push(await makePerson(db, { firstName: `P${p}`, lastName: 'X', email: `p${p}@example.com` }))
  }
  for (const [i, personId] of people.entries()) {
    for (let d = 0; d < 10; d++) {
      const at = START + d * DAY + i * 60_000
      const open = d === 9 && i % 4 === 0
      const id = await makeVisit(db, personId, {
        in: new Date(at).toISOString(),
        ...(open
          ? {}
          : { out: new Date(at + 8 * 3_600_000).toISOString(), closedBy: d % 3 ? 'person' : 'auto' }),
      })
      if (d % 2 === 0) {
        await db
          .insertInto('reminder')
          .values({
            person_id: personId,
            day: `2026-11-${String(d + 1).padStart(2, '0')}`,
            visit_id: id,
            created_at: at,
          })
          .execute()
      }
      if (d % 3 === 0) {
        await db
          .insertInto('visit_at_door')
          .values({ visit_id: id, kiosk_id: null, action: 'signed-in', method: 'pin', at })
          .execute()
      }
    }
  }
  const extra = await makeVisit(db, people[1]!, { in: '2026-11-20T08:00:00Z', out: '2026-11-20T09:00:00Z' })
  await db.deleteFrom('visit').where('id', '=', extra).execute()

  const visitsBefore = await allVisits(db)
  const refsBefore = await referencing(db)
  assert.ok(
    refsBefore.reminders.length >= 200 && refsBefore.doors.length >= 160,
    'the fixture has references',
  )

  await migrateToLatest(db)

  assert.deepEqual(await allVisits(db), visitsBefore, 'every visit kept as it was')
  assert.deepEqual(await referencing(db), refsBefore, 'no reminder or door record lost or cascaded away')
  assert.equal(await countPeopleInside(db), 10, 'the people-inside counter untouched')
  if (testDialect === 'sqlite') {
    assert.deepEqual((await sql`select * from pragma_foreign_key_check`.execute(db)).rows, [])
    const fk = await sql<{ foreign_keys: number }>`select * from pragma_foreign_keys`.execute(db)
    assert.equal(fk.rows[0]!.foreign_keys, 1, 'foreign keys are on again after the rebuild')
  }

  // The new value is accepted, a nonsense one still refused, and ids are never reused.
  const leaver = people[0]!
  const open = visitsBefore.find((v) => v.person_id === leaver && v.signed_out_at === null)!
  await db
    .updateTable('visit')
    .set({ signed_out_at: open.signed_in_at + 1000, closed_by: 'directory' })
    .where('id', '=', open.id)
    .execute()
  assert.equal(await countPeopleInside(db), 9, 'the rebuilt table still has the occupancy triggers')
  await assert.rejects(
    sql`update visit set closed_by = 'nobody' where id = ${open.id}`.execute(db),
    /check constraint|CHECK constraint/i,
  )
  const next = await makeVisit(db, leaver, { in: '2026-11-25T08:00:00Z' })
  assert.ok(next > extra, `a new visit gets an id never used before (${next} > ${extra})`)
  assert.equal(await countPeopleInside(db), 10)
  await assert.rejects(
    makeVisit(db, leaver, { in: '2026-11-25T09:00:00Z' }),
    'still one open visit per person',
  )

  // The references still point at the live table: deleting a visit cascades to its reminder.
  const reminded = refsBefore.reminders[0]!
  await db.deleteFrom('visit').where('id', '=', reminded.visit_id).execute()
  const gone = await db.selectFrom('reminder').select('id').where('id', '=', reminded.id).execute()
  assert.deepEqual(gone, [])
})

test('migrating down gives back the old check, a directory close read as an auto-close', async (t) => {
  const db = await testDb(t)
  const personId = await makePerson(db, { firstName: 'L', lastName: 'X', email: 'l@example.com' })
  await makeVisit(db, personId, {
    in: '2026-11-25T08:00:00Z',
    out: '2026-11-25T09:00:00Z',
    closedBy: 'directory',
  })
  const result = await migrator(db).migrateTo(BEFORE)
  assert.equal(result.error, undefined)
  const [visit] = await allVisits(db)
  assert.equal(visit!.closed_by, 'auto')
  await assert.rejects(
    sql`update visit set closed_by = 'directory' where id = ${visit!.id}`.execute(db),
    /check constraint|CHECK constraint/i,
  )
  await migrateToLatest(db)
})
