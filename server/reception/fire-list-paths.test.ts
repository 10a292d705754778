import assert from 'node:assert/strict'
import { test } from 'node:test'
import { mergePeople } from '../admin/people.service.js'
import { autoCloseOpenVisits } from '../register/auto-close.js'
import { signIn } from '../register/register.service.js'
import { makePerson } from '../testing/factories.js'
import { testDb } from '../testing/test-database.js'
import { fireList, staffOnFireList } from './presence.service.js'

const site = { timeZone: 'Europe/London' }
const settings = { timeZone: 'Europe/London', stillHereHours: 2, autoClosedHours: 12 }
const context = { ip: '127.0.0.1', userAgent: 'test' }
const at = (iso: string) => Date.parse(iso)

test('someone whose two accounts were merged the day both signed in stays on the fire list, unconfirmed, after the auto-close', async (t) => {
  const db = await testDb(t)
  const admin = await makePerson(db, { firstName: 'Ada', lastName: 'Admin', email: 'ada@example.org' })
  // The same human signed up twice (by email, then by phone) and tapped in with both this morning.
  const kept = await makePerson(db, { firstName: 'Sam', lastName: 'Lee', email: 'sam@example.org' })
  const duplicate = await makePerson(db, { firstName: 'Sam', lastName: 'Lee', email: 'sam.lee@example.org' })
  await signIn(db, { personId: kept, now: at('2026-11-23T08:00:00Z'), context }, site)
  await signIn(db, { personId: duplicate, now: at('2026-11-23T09:00:00Z'), context }, site)
  await mergePeople(db, { personId: admin, at: at('2026-11-23T14:00:00Z'), context }, kept, duplicate, site)
  const before = await fireList(db, at('2026-11-23T20:00:00Z'), settings)
  assert.deepEqual(
    staffOnFireList(before).map((p) => [p.personId, p.group]),
    [[kept, 'in']],
    'Sam is in, once',
  )

  // Sam works late and never taps out: the nightly auto-close closes the morning's visit unseen.
  await autoCloseOpenVisits(db, { now: at('2026-11-23T23:59:00Z'), timeZone: site.timeZone, context })
  const night = await fireList(db, at('2026-11-24T00:30:00Z'), settings)
  assert.deepEqual(
    staffOnFireList(night).map((p) => [p.personId, p.group, p.reason?.kind]),
    [[kept, 'unconfirmed', 'auto-closed']],
    'Sam is on the 00:30 fire list as auto-closed, as anyone the auto-close closed',
  )
})
