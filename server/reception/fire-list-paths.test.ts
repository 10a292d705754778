import assert from 'node:assert/strict'
import { test } from 'node:test'
import { adminCloseVisit, deactivatePerson, mergePeople } from '../admin/people.service.js'
import { autoCloseOpenVisits } from '../register/auto-close.js'
import { replayTap } from '../register/offline-replay.js'
import { signIn } from '../register/register.service.js'
import { findLatestVisit } from '../register/visit.repository.js'
import { makePerson } from '../testing/factories.js'
import { testDb } from '../testing/test-database.js'
import { autoCloseVisitors, signInVisitor, signOutVisitor } from '../visitors/visitor.service.js'
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

test('AUTO_CLOSE_TIME 20:00: someone who came in after Monday’s auto-close, and their visitor, stay Unconfirmed 12 hours from Tuesday’s, not from the end of Monday', async (t) => {
  const db = await testDb(t)
  const sam = await makePerson(db, { firstName: 'Sam', lastName: 'Late', email: 'sam@example.org' })
  // Monday's 20:00 auto-close has run (nobody was in). Sam comes in at 21:00, a visitor at 21:05.
  await autoCloseOpenVisits(db, { now: at('2026-11-23T20:00:00Z'), timeZone: site.timeZone, context })
  await signIn(db, { personId: sam, now: at('2026-11-23T21:00:00Z'), context }, site)
  await signInVisitor(
    db,
    {
      input: { name: 'Vic Visitor', hostId: sam },
      source: { via: 'reception', kiosk: null, personId: null, context },
      at: at('2026-11-23T21:05:00Z'),
      now: at('2026-11-23T21:05:00Z'),
      noticeId: null,
    },
    { timeZone: site.timeZone, defaultRegion: 'GB' },
  )
  const listed = async (iso: string) => {
    const list = await fireList(db, at(iso), settings)
    return {
      staff: staffOnFireList(list).map((p) => [p.firstName, p.group, p.reason?.kind]),
      visitors: list.visitors.map((v) => [v.name, v.confirmed]),
    }
  }
  assert.deepEqual(
    await listed('2026-11-24T19:59:00Z'),
    { staff: [['Sam', 'unconfirmed', 'earlier-day']], visitors: [['Vic Visitor', false]] },
    'all Tuesday: open since Monday',
  )

  // Tuesday's auto-close closes both at the end of Monday, the day they began (for the reports).
  await autoCloseOpenVisits(db, { now: at('2026-11-24T20:00:00Z'), timeZone: site.timeZone, context })
  await autoCloseVisitors(db, { now: at('2026-11-24T20:00:00Z'), timeZone: site.timeZone, context })
  const unconfirmed = {
    staff: [['Sam', 'unconfirmed', 'auto-closed']],
    visitors: [['Vic Visitor', false]],
  }
  assert.deepEqual(await listed('2026-11-24T20:01:00Z'), unconfirmed, 'still listed after the auto-close')
  assert.deepEqual(await listed('2026-11-25T07:59:00Z'), unconfirmed, 'for 12 hours from Tuesday 20:00')
  assert.deepEqual(await listed('2026-11-25T08:01:00Z'), { staff: [], visitors: [] }, 'and no longer')
  const endOfMonday = at('2026-11-24T00:00:00Z') - 1
  const visit = await db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  const visitor = await db.selectFrom('visitor').selectAll().executeTakeFirstOrThrow()
  assert.deepEqual(
    [visit.signed_out_at, visit.closed_at, visitor.signed_out_at, visitor.closed_at].map(Number),
    [endOfMonday, at('2026-11-24T20:00:00Z'), endOfMonday, at('2026-11-24T20:00:00Z')],
    'ended at the end of Monday, closed by the register at Tuesday 20:00',
  )
})

test('every close records when the register closed the visit (closed_at), apart from when it ended', async (t) => {
  const db = await testDb(t)
  const admin = await makePerson(db, { firstName: 'Ada', lastName: 'Admin', email: 'ada@example.org' })
  const [ann, bob, cat, dan] = await Promise.all(
    ['Ann', 'Bob', 'Cat', 'Dan'].map((n) =>
      makePerson(db, { firstName: n, lastName: 'Test', email: `${n.toLowerCase()}@example.org` }),
    ),
  )
  for (const person of [ann, bob, cat, dan]) {
    await signIn(db, { personId: person!, now: at('2026-11-23T08:00:00Z'), context }, site)
  }
  const { visitor } = await signInVisitor(
    db,
    {
      input: { name: 'Vic Visitor', hostId: ann! },
      source: { via: 'reception', kiosk: null, personId: null, context },
      at: at('2026-11-23T08:05:00Z'),
      now: at('2026-11-23T08:05:00Z'),
      noticeId: null,
    },
    { timeZone: site.timeZone, defaultRegion: 'GB' },
  )
  const now = at('2026-11-23T12:00:00Z')
  const actor = { personId: admin, at: now, context }
  const visitOf = async (personId: number) => (await findLatestVisit(db, personId))!
  // Ann's phone saved her sign-out at 11:00, offline, and sent it at noon.
  await replayTap(
    db,
    { personId: ann!, action: 'sign-out', at: at('2026-11-23T11:00:00Z'), now, context },
    site,
  )
  // An administrator closes Bob's visit at 10:30, the time he left, and deactivates Cat.
  await adminCloseVisit(db, actor, {
    personId: bob!,
    visitId: (await visitOf(bob!)).id,
    leftAt: at('2026-11-23T10:30:00Z'),
    note: '',
  })
  await deactivatePerson(db, actor, cat!)
  // Reception signs the visitor out as having left at 09:00.
  await signOutVisitor(db, {
    visitorId: visitor.id,
    at: at('2026-11-23T09:00:00Z'),
    now,
    closedBy: 'reception',
    source: { via: 'reception', kiosk: null, personId: admin, context },
  })
  // Dan's visit is left open till the next day: his sign-in then closes it at the end of Monday.
  const tuesday = at('2026-11-24T08:00:00Z')
  await signIn(db, { personId: dan!, now: tuesday, context }, site)

  const ended = async (personId: number) => {
    const v = await db
      .selectFrom('visit')
      .select(['signed_out_at', 'closed_at'])
      .where('person_id', '=', personId)
      .orderBy('id')
      .executeTakeFirstOrThrow()
    return [Number(v.signed_out_at), Number(v.closed_at)]
  }
  assert.deepEqual(await ended(ann!), [at('2026-11-23T11:00:00Z'), now], 'a replayed tap: when it reached us')
  assert.deepEqual(await ended(bob!), [at('2026-11-23T10:30:00Z'), now], 'an administrator’s close')
  assert.deepEqual(await ended(cat!), [now, now], 'a deactivation')
  assert.deepEqual(await ended(dan!), [at('2026-11-24T00:00:00Z') - 1, tuesday], 'a later day’s sign-in')
  const v = await db
    .selectFrom('visitor')
    .select(['signed_out_at', 'closed_at'])
    .where('id', '=', visitor.id)
    .executeTakeFirstOrThrow()
  assert.deepEqual(
    [Number(v.signed_out_at), Number(v.closed_at)],
    [at('2026-11-23T09:00:00Z'), now],
    'a visitor',
  )
})
