import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makePerson } from '../testing/factories.js'
import { testDb } from '../testing/test-database.js'
import { isCheckViolation, isDatabaseBusy } from './http-errors.js'

test('PostgreSQL errors that mean "try again" are busy; other database errors are not', () => {
  for (const code of ['40001', '40P01', '55P03', '57014', 'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']) {
    assert.equal(isDatabaseBusy(Object.assign(new Error('x'), { code })), true, code)
  }
  for (const code of ['23505', '23503', '42P01', '53300', 'SQLITE_CONSTRAINT', undefined]) {
    assert.equal(isDatabaseBusy(Object.assign(new Error('x'), { code })), false, String(code))
  }
  assert.equal(isDatabaseBusy(null), false)
})

const nothing = () => undefined
const theError = (error: unknown) => error

test('a CHECK constraint refusal is recognised as such on the database this run tests', async (t) => {
  const db = await testDb(t)
  const personId = await makePerson(db, { firstName: 'Ann', lastName: 'X', email: 'ann@example.org' })
  // A visit that ends before it began: the register's CHECK (visit_out_after_in) refuses it.
  const refused = await db
    .insertInto('visit')
    .values({ person_id: personId, signed_in_at: 2_000, signed_out_at: 1_000, closed_by: 'person' })
    .execute()
    .then(nothing, theError)
  assert.ok(refused, 'the insert was refused')
  assert.equal(isCheckViolation(refused), true)
  // Other refusals are not: a second open visit for one person breaks a unique index, not a CHECK.
  await db.insertInto('visit').values({ person_id: personId, signed_in_at: 3_000 }).execute()
  const duplicate = await db
    .insertInto('visit')
    .values({ person_id: personId, signed_in_at: 4_000 })
    .execute()
    .then(nothing, theError)
  assert.ok(duplicate, 'the second open visit was refused')
  assert.equal(isCheckViolation(duplicate), false)
  assert.equal(isCheckViolation(new Error('CHECK constraint failed, said a person')), false)
})
