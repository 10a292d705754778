import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isDatabaseBusy } from './http-errors.js'

test('PostgreSQL errors that mean "try again" are busy; other database errors are not', () => {
  for (const code of ['40001', '40P01', '55P03', '57014', 'SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT']) {
    assert.equal(isDatabaseBusy(Object.assign(new Error('x'), { code })), true, code)
  }
  for (const code of ['23505', '23503', '42P01', '53300', 'SQLITE_CONSTRAINT', undefined]) {
    assert.equal(isDatabaseBusy(Object.assign(new Error('x'), { code })), false, String(code))
  }
  assert.equal(isDatabaseBusy(null), false)
})
