import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { sql } from 'kysely'
import { adminCloseVisit, mergePeople } from '../admin/people.service.js'
import { connectPostgres, type Db } from '../db/connect.js'
import { migrateToLatest, migrator } from '../db/migrate.js'
import { startRollCall } from '../reception/roll-call.service.js'
import { purgeExpired } from '../retention/retention.js'
import { scimCreateUser, scimDeleteUser } from '../scim/scim.service.js'
import { eventually } from '../testing/eventually.js'
import { makePerson, makeVisit } from '../testing/factories.js'
import { latch, racingPostgres, someoneWaitsForALock } from '../testing/races.js'
import { freshPostgresDatabase, testDb, testDialect } from '../testing/test-database.js'
import { signInVisitor } from '../visitors/visitor.service.js'
import { autoCloseOpenVisits } from './auto-close.js'
import { signIn, signOut } from './register.service.js'
import { closeVisit, countPeopleInside, findOpenVisit } from './visit.repository.js'

const site = { timeZone: 'Europe/London' }
const context = { ip: '127.0.0.1', userAgent: 'test' }
const NOON = Date.parse('2026-11-23T12:00:00Z')

type Step =
  | { kind: 'in' | 'out' | 'auto-close' | 'delete-open' | 'delete-person'; who: number }
  | { kind: 'merge'; who: number; into: number }
  | { kind: 'reopen-latest'; who: number }

const step = (people: number): fc.Arbitrary<Step> => {
  const who = fc.integer({ min: 0, max: people - 1 })
  return fc.oneof(
    fc.record({ kind: fc.constantFrom('in', 'out', 'auto-close', 'delete-open', 'delete-person'), who }),
    fc.record({ kind: fc.constant('merge'), who, into: who }),
    fc.record({ kind: fc.constant('reopen-latest'), who }),
  ) as fc.Arbitrary<Step>
}

test('the people-inside counter always equals the number of open visits, whatever changes them', async (t) => {
  const db = await testDb(t)
  await fc.assert(
    fc.asyncProperty(fc.array(step(4), { maxLength: 40 }), async (steps) => {
      try {
        const ids: number[] = []
        for (let i = 0; i < 4; i++) {
          ids.push(await makePerson(db, { firstName: `P${i}`, lastName: 'X', email: `p${i}@example.com` }))
        }
        // One earlier visit left open, to start from a non-zero count.
        await makeVisit(db, ids[3]!, { in: '2026-11-23T08:00:00Z' })
        let now = NOON
        const deleted = new Set<number>()
        for (const s of steps) {
          now += 60_000
          const personId = ids[s.who]!
          // A deleted person cannot tap (their devices went with them).
          if (deleted.has(personId)) continue
          switch (s.kind) {
            case 'in':
              await signIn(db, { personId, now, context }, site)
              break
            case 'out':
              await signOut(db, { personId, now, context }, site)
              break
            case 'auto-close': {
              const open = await findOpenVisit(db, personId)
              if (open) await closeVisit(db, open.id, now, 'auto', now)
              break
            }
            case 'delete-open':
              await db
                .deleteFrom('visit')
                .where('person_id', '=', personId)
                .where('signed_out_at', 'is', null)
                .execute()
              break
            case 'delete-person':
              // Foreign-key cascades delete the visits; the counter's triggers must see them.
              await db.deleteFrom('person').where('id', '=', personId).execute()
              deleted.add(personId)
              break
            case 'merge': {
              const into = ids[s.into]!
              const both = await db
                .selectFrom('person')
                .select('id')
                .where('id', 'in', [personId, into])
                .execute()
              if (personId !== into && both.length === 2) {
                await mergePeople(db, { personId: into, at: now, context }, into, personId, {
                  timeZone: 'UTC',
                })
              }
              break
            }
            case 'reopen-latest': {
              // An admin correction undoing a sign-out (allowed only when nothing else is open).
              if (!(await findOpenVisit(db, personId))) {
                const latest = await db
                  .selectFrom('visit')
                  .select('id')
                  .where('person_id', '=', personId)
                  .orderBy('id', 'desc')
                  .executeTakeFirst()
                if (latest) {
                  await db
                    .updateTable('visit')
                    .set({ signed_out_at: null, closed_by: null })
                    .where('id', '=', latest.id)
                    .execute()
                }
              }
              break
            }
          }
          const { n } = await db
            .selectFrom('visit')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('signed_out_at', 'is', null)
            .executeTakeFirstOrThrow()
          assert.equal(await countPeopleInside(db), Number(n), `after ${JSON.stringify(s)}`)
        }
      } finally {
        // The next run starts from nobody (the cascade empties visit through the triggers too).
        await db.deleteFrom('person').execute()
      }
    }),
    { numRuns: 60 },
  )
})

test('the counter starts from the open visits already recorded when the migration runs', async (t) => {
  const db = await testDb(t, { migrated: false })
  const before = await migrator(db).migrateTo('202611232310_index_visit_references')
  assert.equal(before.error, undefined)
  const a = await makePerson(db, { firstName: 'A', lastName: 'X', email: 'a@example.com' })
  const b = await makePerson(db, { firstName: 'B', lastName: 'X', email: 'b@example.com' })
  await makeVisit(db, a, { in: '2026-11-23T08:00:00Z' })
  await makeVisit(db, b, { in: '2026-11-22T08:00:00Z', out: '2026-11-22T17:00:00Z' })
  await makeVisit(db, b, { in: '2026-11-23T08:30:00Z' })
  await migrateToLatest(db)
  assert.equal(await countPeopleInside(db), 2)
})

/** Open visits counted the slow, sure way. */
async function openVisits(db: Db): Promise<number> {
  const { n } = await db
    .selectFrom('visit')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('signed_out_at', 'is', null)
    .executeTakeFirstOrThrow()
  return Number(n)
}

test('taps on many connections at once, with every other path beside them, leave the count exact', async (t) => {
  // PostgreSQL: a pool of 8, so taps really run in parallel transactions on different backends.
  let db: Db
  let connections = 1
  if (testDialect === 'postgres') {
    const database = await freshPostgresDatabase()
    const opened = connectPostgres(database.url, { poolSize: 8 })
    db = opened.db
    connections = 0
    opened.pool.on('connect', () => connections++)
    t.after(async () => {
      await db.destroy()
      await database.drop()
    })
  } else {
    db = await testDb(t)
  }
  const DAY = 86_400_000
  const today = Date.parse('2026-11-23T08:00:00Z')
  const make = async (group: string, n: number) => {
    const ids: number[] = []
    for (let i = 0; i < n; i++) {
      ids.push(
        await makePerson(db, { firstName: `${group}${i}`, lastName: 'X', email: `${group}${i}@example.com` }),
      )
    }
    return ids
  }
  const tappers = await make('tap', 16)
  // Open since yesterday: the auto-close's.
  const forgotten = await make('forgot', 4)
  for (const id of forgotten) await makeVisit(db, id, { in: '2026-11-22T09:00:00Z' })
  // Open today: an admin closes these, the directory those, merges join pairs of these.
  const corrected = await make('admin', 4)
  const leavers = await make('leaver', 4)
  const merged = await make('merge', 6)
  for (const id of [...corrected, ...leavers, ...merged])
    await makeVisit(db, id, { in: '2026-11-23T08:30:00Z' })
  // Two years old: the purge's (closed ones go; an open one would stay).
  for (const id of tappers.slice(0, 4)) {
    await makeVisit(db, id, { in: '2024-11-01T08:00:00Z', out: '2024-11-01T17:00:00Z' })
  }
  const actor = { personId: null, at: today + 3_600_000, context }
  const directory = { tokenId: 0, at: actor.at, context, defaultRegion: 'GB' }
  for (const id of leavers) {
    const email = `leaver${leavers.indexOf(id)}@example.com`
    await scimCreateUser(db, directory, {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: email,
      emails: [{ value: email, primary: true }],
    })
  }
  const before = await openVisits(db)
  assert.equal(await countPeopleInside(db), before)

  const tapStorm = tappers.map(async (personId, i) => {
    for (let round = 0; round < 8; round++) {
      const now = today + 3_600_000 + round * 60_000 + i
      await (round % 2 === 0 ? signIn : signOut)(db, { personId, now, context }, site)
    }
    // Half of them stay in.
    if (i % 2 === 0) await signIn(db, { personId, now: today + 4 * 3_600_000 + i, context }, site)
  })
  const others = [
    autoCloseOpenVisits(db, { now: today, timeZone: site.timeZone, context }),
    ...corrected.map(async (personId) => {
      const open = (await findOpenVisit(db, personId))!
      await adminCloseVisit(db, actor, { personId, visitId: open.id, leftAt: actor.at, note: 'forgot' })
    }),
    ...leavers.map((personId) => scimDeleteUser(db, directory, personId)),
    mergePeople(db, actor, merged[0]!, merged[1]!, { timeZone: 'UTC' }),
    mergePeople(db, actor, merged[2]!, merged[3]!, { timeZone: 'UTC' }),
    mergePeople(db, actor, merged[4]!, merged[5]!, { timeZone: 'UTC' }),
    purgeExpired(db, { now: today, days: 365, dryRun: false, context }),
  ]
  await Promise.all([...tapStorm, ...others])

  const after = await openVisits(db)
  // 8 taps stay in, the 6 merged become 3, the rest were closed.
  assert.equal(after, 8 + 3)
  assert.equal(await countPeopleInside(db), after, 'the counter equals the open visits')
  const closedBy = await db
    .selectFrom('visit')
    .select(['closed_by', (eb) => eb.fn.countAll<number>().as('n')])
    .where('closed_by', 'in', ['auto', 'admin', 'directory'])
    .groupBy('closed_by')
    .orderBy('closed_by')
    .execute()
  assert.deepEqual(
    closedBy.map((r) => [r.closed_by, Number(r.n)]),
    [
      ['admin', 4 + 3],
      ['auto', 4],
      ['directory', 4],
    ],
    'every path ran',
  )
  const old = await sql<{
    n: number
  }>`select count(*) as n from visit where signed_in_at < ${today - 365 * DAY}`.execute(db)
  assert.equal(Number(old.rows[0]!.n), 0, 'the purge ran')
  if (testDialect === 'postgres') assert.ok(connections > 1, `taps ran on ${connections} connections`)
})

for (const who of ['staff', 'visitor'] as const) {
  test(`a ${who} sign-in committing while a roll call starts on another connection is on its list (PostgreSQL)`, {
    skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
  }, async (t) => {
    const db = await racingPostgres(t)
    const amy = await makePerson(db, { firstName: 'Amy', lastName: 'Clark', email: 'amy@example.com' })
    const marshal = await makePerson(db, { firstName: 'Mo', lastName: 'Marshal', email: 'mo@example.com' })
    const fireList = { timeZone: site.timeZone, stillHereHours: 2, autoClosedHours: 12 }
    // The sign-in has written its row but not committed when the marshal taps "start".
    const committed = latch()
    const written = latch()
    const tap = db.transaction().execute(async (trx) => {
      if (who === 'staff') await signIn(trx, { personId: amy, now: NOON, context }, site)
      else
        await signInVisitor(
          trx,
          {
            input: { name: 'Vera Visitor', hostId: amy },
            source: { via: 'reception', kiosk: null, personId: null, context },
            at: NOON,
            now: NOON,
            noticeId: null,
          },
          { timeZone: site.timeZone, defaultRegion: 'GB' },
        )
      written.open()
      await committed.reached
    })
    await written.reached
    const start = startRollCall(db, { personId: marshal, at: NOON + 1, context, kind: 'real', fireList })
    // The roll call either finishes (and must then have waited for nothing it could miss) or waits
    // on the sign-in's lock; only then does the sign-in commit.
    let finished = false
    void start.then(() => {
      finished = true
    })
    await eventually(
      async () => finished || (await someoneWaitsForALock(db)),
      'the roll call to finish or wait for the sign-in',
    )
    const raced = finished ? 'started' : 'waiting'
    committed.open()
    await tap
    const { rollCall } = await start
    const listed =
      who === 'staff'
        ? await db
            .selectFrom('roll_call_person')
            .select('person_id as id')
            .where('roll_call_id', '=', rollCall.id)
            .execute()
        : await db
            .selectFrom('roll_call_visitor')
            .select('name as id')
            .where('roll_call_id', '=', rollCall.id)
            .execute()
    assert.deepEqual(
      listed.map((r) => r.id),
      [who === 'staff' ? amy : 'Vera Visitor'],
      `on the roll call (the roll call was ${raced} when the sign-in committed)`,
    )
  })
}

test('a sign-out dated after the alarm, committing while a roll call starts on another connection, is on its list as signed out during it (PostgreSQL)', {
  skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
}, async (t) => {
  const db = await racingPostgres(t)
  const amy = await makePerson(db, { firstName: 'Amy', lastName: 'Clark', email: 'amy@example.com' })
  const marshal = await makePerson(db, { firstName: 'Mo', lastName: 'Marshal', email: 'mo@example.com' })
  await signIn(db, { personId: amy, now: NOON - 3_600_000, context }, site)
  const fireList = { timeZone: site.timeZone, stillHereHours: 2, autoClosedHours: 12 }
  // Amy's sign-out, a moment after the marshal's tap, has written its row but not committed.
  const committed = latch()
  const written = latch()
  const tap = db.transaction().execute(async (trx) => {
    await signOut(trx, { personId: amy, now: NOON + 5, context }, site)
    written.open()
    await committed.reached
  })
  await written.reached
  const start = startRollCall(db, { personId: marshal, at: NOON, context, kind: 'real', fireList })
  await eventually(() => someoneWaitsForALock(db), 'the roll call to wait for the sign-out')
  committed.open()
  await tap
  const { rollCall } = await start
  const lines = await db
    .selectFrom('roll_call_person')
    .select(['person_id', 'signed_out_at'])
    .where('roll_call_id', '=', rollCall.id)
    .execute()
  assert.deepEqual(
    lines.map((l) => [l.person_id, Number(l.signed_out_at)]),
    [[amy, NOON + 5]],
    'on the roll call, signed out during the alarm',
  )
})
