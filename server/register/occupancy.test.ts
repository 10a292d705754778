import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { mergePeople } from '../admin/people.service.js'
import { connect } from '../db/connect.js'
import { migrateToLatest, migrator } from '../db/migrate.js'
import { makePerson, makeVisit } from '../testing/factories.js'
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

test('the people-inside counter always equals the number of open visits, whatever changes them', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step(4), { maxLength: 40 }), async (steps) => {
      const { db } = connect(':memory:')
      try {
        await migrateToLatest(db)
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
              if (open) await closeVisit(db, open.id, now, 'auto')
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
                await mergePeople(db, { personId: into, at: now, context }, into, personId)
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
        await db.destroy()
      }
    }),
    { numRuns: 60 },
  )
})

test('the counter starts from the open visits already recorded when the migration runs', async (t) => {
  const { db } = connect(':memory:')
  t.after(() => db.destroy())
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
