import assert from 'node:assert/strict'
import { test } from 'node:test'
import { makePerson } from '../testing/factories.js'
import { testDb } from '../testing/test-database.js'
import { PersonNames } from './visit-report.repository.js'

test('PersonNames reads each name once, in batches past the bound-value limit, and has none for a missing person', async (t) => {
  const db = await testDb(t)
  const ids: number[] = []
  for (let i = 0; i < 1_200; i++)
    ids.push(await makePerson(db, { firstName: `F${i}`, lastName: `L${i}`, email: `p${i}@example.org` }))
  const names = new PersonNames(db)
  await names.load([...ids, ...ids, 999_999])
  for (const [i, id] of ids.entries())
    assert.deepEqual(names.get(id), { first_name: `F${i}`, last_name: `L${i}` })
  assert.equal(names.get(999_999), undefined)
  // Already read: a rename after the first read does not show (one name per report, read once).
  await db.updateTable('person').set({ first_name: 'Renamed' }).where('id', '=', ids[0]!).execute()
  await names.load([ids[0]!])
  assert.equal(names.get(ids[0]!)?.first_name, 'F0')
})
