import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { isDatabaseBusy } from '../lib/http-errors.js'
import { consoleChannel } from '../messaging/console.channel.js'
import { Messenger } from '../messaging/messenger.js'
import { eventually } from '../testing/eventually.js'
import { makePerson } from '../testing/factories.js'
import { latch, racingPostgres, someoneWaitsForALock } from '../testing/races.js'
import { testDialect } from '../testing/test-database.js'
import {
  deliverInvitations,
  ImportRefused,
  type InvitationDeps,
  importInvitations,
  type SendBy,
} from './invitation.service.js'

const NOON = Date.parse('2026-11-23T12:00:00Z')
const context = { ip: '203.0.113.9', userAgent: 'test' }
const skip =
  testDialect !== 'postgres' &&
  'SQLite has one writer: an import holds it from its first read, so the second waits and sees the first (TEST_DATABASE=postgres)'

const LIST = 'Ann Able,07400 100001\nBen Baker,07400 100002\nCat Cole,cat@example.org'

/** Deps on the racing pool, sending through the console channel into `sent` (one recipient a line). */
function depsOn(db: Db, textsPerDay = 500): InvitationDeps & { sent: string[] } {
  const sent: string[] = []
  const log = { info: (line: string) => sent.push(/^message to (\S+)/.exec(line)?.[1] ?? line) }
  return {
    sent,
    db,
    messenger: new Messenger([consoleChannel(log)], {
      siteName: 'Test Office',
      publicUrl: 'https://register.example.org',
    }),
    clock: { now: () => NOON },
    defaultRegion: 'GB',
    smsAllowedCountries: ['GB'],
    publicUrl: 'https://register.example.org',
    timeZone: 'Europe/London',
    days: 14,
    textsPerDay,
  }
}

type Outcome = { ok: true } | { ok: false; error: Error & { statusCode?: number } }
const outcomeOf = (work: Promise<unknown>): Promise<Outcome> =>
  work.then(
    () => ({ ok: true }),
    (error: Error) => ({ ok: false, error }),
  )

/**
 * Two imports sent at the same moment from two web processes: the first has saved its invitations
 * but not committed when the second starts; the first commits once the second has either finished
 * or is waiting for a lock (or, with `holdUntilSecondSettles`, only once it has finished). `wrap`
 * runs the second import in a unit of work of the test's own (to shorten its lock wait).
 */
async function raceImports(
  deps: InvitationDeps,
  first: { csv: string; sendBy: SendBy },
  second: { csv: string; sendBy: SendBy },
  options: {
    wrap?: (run: (db: Db) => Promise<unknown>) => Promise<unknown>
    holdUntilSecondSettles?: boolean
  } = {},
): Promise<[Outcome, Outcome]> {
  const { wrap = (run) => run(deps.db), holdUntilSecondSettles = false } = options
  const admin = await makePerson(deps.db, { firstName: 'Bea', lastName: 'Boss', email: 'boss@example.org' })
  const actor = { personId: admin, at: NOON, context }
  const saved = latch()
  const commit = latch()
  const a = outcomeOf(
    unitOfWork(deps.db, async (trx) => {
      await importInvitations({ ...deps, db: trx }, actor, first)
      saved.open()
      await commit.reached
    }),
  )
  await saved.reached
  let settled = false
  const b = outcomeOf(wrap((db) => importInvitations({ ...deps, db }, actor, second))).then((outcome) => {
    settled = true
    return outcome
  })
  await eventually(
    async () => settled || (!holdUntilSecondSettles && (await someoneWaitsForALock(deps.db))),
    holdUntilSecondSettles
      ? 'the second import to finish'
      : 'the second import to finish or to wait for the first',
  )
  commit.open()
  return [await a, await b]
}

/** Invitations still waiting or usable, per contact. */
async function liveByContact(db: Db): Promise<Map<string, number>> {
  const rows = await db
    .selectFrom('invitation')
    .select('contact_value')
    .where('status', 'in', ['pending', 'sending', 'sent'])
    .execute()
  const counts = new Map<string, number>()
  for (const row of rows) counts.set(row.contact_value, (counts.get(row.contact_value) ?? 0) + 1)
  return counts
}

test('the same list sent twice at the same moment is saved once: the second import is refused as duplicates, and each person is invited once (PostgreSQL)', {
  skip,
}, async (t) => {
  const deps = depsOn(await racingPostgres(t))
  const list = { csv: LIST, sendBy: 'phone' as const }
  const [first, second] = await raceImports(deps, list, list)

  assert.ok(first.ok, 'the first import is saved')
  assert.ok(!second.ok, 'the second import is refused')
  assert.ok(
    second.error instanceof ImportRefused,
    `refused as a sequential second import is: ${second.error}`,
  )
  assert.equal(second.error.statusCode, 422)
  assert.deepEqual(
    second.error.report.rows.map((row) => row.problems.map((p) => p.replace(/ on .*$/, ''))),
    [
      ['Duplicate: +44 7400 100001 was already invited'],
      ['Duplicate: +44 7400 100002 was already invited'],
      ['Duplicate: cat@example.org was already invited'],
    ],
  )
  assert.deepEqual(
    Object.fromEntries(await liveByContact(deps.db)),
    { '+447400100001': 1, '+447400100002': 1, 'cat@example.org': 1 },
    'one live invitation per contact',
  )
  const delivered = await deliverInvitations(deps, context)
  assert.equal(delivered.sent, 3, 'three invitations sent')
  assert.deepEqual(
    deps.sent.sort(),
    ['+447400100001', '+447400100002', 'cat@example.org'],
    'each person gets one message',
  )
})

test('two imports at the same moment cannot text past the daily ceiling between them: the second is refused whole (PostgreSQL)', {
  skip,
}, async (t) => {
  const deps = depsOn(await racingPostgres(t), 3)
  const [first, second] = await raceImports(
    deps,
    { csv: 'Ann Able,07400 100001\nBen Baker,07400 100002', sendBy: 'phone' },
    { csv: 'Dan Dale,07400 100004\nEve Evans,07400 100005', sendBy: 'phone' },
  )

  assert.ok(first.ok, 'the first import (2 texts of 3) is saved')
  assert.ok(!second.ok, 'the second import (2 more texts) is refused')
  assert.ok(second.error instanceof ImportRefused, `refused by the ceiling: ${second.error}`)
  assert.equal(second.error.statusCode, 429)
  assert.match(second.error.message, /at most 3 invitations in 24 hours and 2 have been texted already/)
  const texts = await deps.db
    .selectFrom('invitation')
    .select('contact_value')
    .where('contact_kind', '=', 'phone')
    .orderBy('contact_value')
    .execute()
  assert.deepEqual(
    texts.map((row) => row.contact_value),
    ['+447400100001', '+447400100002'],
    'only the first import’s texts are saved',
  )
})

test('an import that waits for another past lock_timeout is told the database is busy (a 503), and saves nothing (PostgreSQL)', {
  skip,
}, async (t) => {
  const deps = depsOn(await racingPostgres(t))
  const list = { csv: LIST, sendBy: 'phone' as const }
  // The first import holds on until the second has given up, however long that takes: the pool's
  // lock_timeout (5 s) would do as well, a shorter one only makes the test quicker.
  const [first, second] = await raceImports(deps, list, list, {
    wrap: (run) =>
      unitOfWork(deps.db, async (trx) => {
        await sql`set local lock_timeout = '200ms'`.execute(trx)
        return run(trx)
      }),
    holdUntilSecondSettles: true,
  })

  assert.ok(first.ok, 'the first import is saved')
  assert.ok(!second.ok, 'the second import gave up')
  assert.equal((second.error as { code?: string }).code, '55P03', `a lock timeout: ${second.error}`)
  assert.ok(isDatabaseBusy(second.error), 'a "try again" error, answered with 503')
  assert.deepEqual(
    Object.fromEntries(await liveByContact(deps.db)),
    { '+447400100001': 1, '+447400100002': 1, 'cat@example.org': 1 },
    'only the first import’s invitations are saved',
  )
})
