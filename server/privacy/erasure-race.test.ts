import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import { insertDevice } from '../identity/device.repository.js'
import { signIn } from '../register/register.service.js'
import { findOpenVisit } from '../register/visit.repository.js'
import { eventually } from '../testing/eventually.js'
import { makePerson } from '../testing/factories.js'
import { latch, racingPostgres, someoneWaitsForALock } from '../testing/races.js'
import { testDialect } from '../testing/test-database.js'
import { erasePerson } from './erasure.service.js'

const NOON = Date.parse('2026-11-23T12:00:00Z')
const context = { ip: '203.0.113.9', userAgent: 'test' }
const site = { timeZone: 'Europe/London' }
const fireList = { timeZone: site.timeZone, stillHereHours: 2, autoClosedHours: 12 }

test('a sign-in that commits while an erasure is under way refuses the erasure: they stay on the fire list, named (PostgreSQL)', {
  skip:
    testDialect !== 'postgres' &&
    'SQLite has one writer: the erasure holds it from its first read (TEST_DATABASE=postgres)',
}, async (t) => {
  const db = await racingPostgres(t)
  const ada = await makePerson(db, { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.org' })
  const bob = await makePerson(db, {
    firstName: 'Bob',
    lastName: 'Admin',
    email: 'bob@example.org',
    role: 'admin',
  })
  await insertDevice(db, {
    personId: ada,
    kind: 'browser',
    tokenHash: 'h',
    name: 'phone',
    userAgent: 'test',
    at: NOON,
  })

  // Another transaction holds Ada's device row: the erasure, past its "is she signed in?" check,
  // waits to revoke it. Meanwhile Ada signs in and that commits; then the holder lets go.
  const released = latch()
  const holding = latch()
  const holder = db.transaction().execute(async (trx) => {
    await sql`select id from device where person_id = ${ada} for update`.execute(trx)
    holding.open()
    await released.reached
  })
  await holding.reached
  const erasure = erasePerson(db, { personId: bob, at: NOON + 1, context }, ada, fireList).then(
    () => undefined,
    (error: Error & { statusCode?: number }) => error,
  )
  await eventually(() => someoneWaitsForALock(db), 'the erasure to wait for the device row')
  await signIn(db, { personId: ada, now: NOON + 2, context }, site)
  released.open()
  await holder
  const refused = await erasure
  assert.ok(refused, 'the erasure was refused')
  assert.equal(refused.statusCode, 409)
  assert.match(refused.message, /Ada Lovelace signed in/)
  const open = await findOpenVisit(db, ada)
  assert.ok(open, 'her visit is still open: she is on the fire list')
  const person = await db.selectFrom('person').selectAll().where('id', '=', ada).executeTakeFirstOrThrow()
  assert.deepEqual([person.first_name, person.erased_at, person.deactivated_at], ['Ada', null, null])
})
