import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Db } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { consoleChannel } from '../messaging/console.channel.js'
import { Messenger } from '../messaging/messenger.js'
import { makePerson } from '../testing/factories.js'
import { latch, racingPostgres } from '../testing/races.js'
import { testDialect } from '../testing/test-database.js'
import {
  deliverInvitations,
  ImportRefused,
  type InvitationActor,
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

let admins = 0
/** An admin acting at noon (a new one each call). */
const adminOf = async (deps: InvitationDeps): Promise<InvitationActor> => ({
  personId: await makePerson(deps.db, {
    firstName: 'Bea',
    lastName: 'Boss',
    email: `boss${++admins}@example.org`,
  }),
  at: NOON,
  context,
})

/**
 * An import being saved by another web process: its invitations are saved, not yet committed, and
 * it holds the import lock until `commit` is called; `outcome` settles once it has committed.
 */
async function importBeingSaved(
  deps: InvitationDeps,
  actor: InvitationActor,
  list: { csv: string; sendBy: SendBy },
): Promise<{ outcome: Promise<Outcome>; commit: () => void }> {
  const saved = latch()
  const commit = latch()
  const outcome = outcomeOf(
    unitOfWork(deps.db, async (trx) => {
      await importInvitations({ ...deps, db: trx }, actor, list)
      saved.open()
      await commit.reached
    }),
  )
  await saved.reached
  return { outcome, commit: commit.open }
}

/**
 * Two imports sent at the same moment from two web processes: the first has saved its invitations
 * but not committed when the second starts, and commits only once the second has finished.
 */
async function raceImports(
  deps: InvitationDeps,
  first: { csv: string; sendBy: SendBy },
  second: { csv: string; sendBy: SendBy },
): Promise<[Outcome, Outcome]> {
  const actor = await adminOf(deps)
  const saving = await importBeingSaved(deps, actor, first)
  const b = await outcomeOf(importInvitations(deps, actor, second))
  saving.commit()
  return [await saving.outcome, b]
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

test('the same list sent twice at the same moment is saved once: the second import is refused at once (409, another import is running), not left waiting, and sent again it is refused as duplicates (PostgreSQL)', {
  skip,
}, async (t) => {
  const deps = depsOn(await racingPostgres(t))
  const list = { csv: LIST, sendBy: 'phone' as const }
  // The first import holds its lock until the second has finished: a second that waited for it
  // would wait out lock_timeout (5 s) and fail with a lock timeout instead.
  const [first, second] = await raceImports(deps, list, list)

  assert.ok(first.ok, 'the first import is saved')
  assert.ok(!second.ok, 'the second import is refused')
  assert.ok(second.error instanceof ImportRefused, `refused, not timed out: ${second.error}`)
  assert.equal(second.error.statusCode, 409)
  assert.match(second.error.message, /^Another import is running; try again in a moment\./)
  assert.deepEqual(second.error.report.rows, [], 'the second list was not checked against a half-saved first')
  assert.deepEqual(
    Object.fromEntries(await liveByContact(deps.db)),
    { '+447400100001': 1, '+447400100002': 1, 'cat@example.org': 1 },
    'one live invitation per contact',
  )

  // Tried again once the first is saved, it is checked against it.
  const again = await outcomeOf(importInvitations(deps, await adminOf(deps), list))
  assert.ok(!again.ok && again.error instanceof ImportRefused, 'the same list again is refused')
  assert.equal(again.error.statusCode, 422)
  assert.deepEqual(
    again.error.report.rows.map((row) => row.problems.map((p) => p.replace(/ on .*$/, ''))),
    [
      ['Duplicate: +44 7400 100001 was already invited'],
      ['Duplicate: +44 7400 100002 was already invited'],
      ['Duplicate: cat@example.org was already invited'],
    ],
  )
  const delivered = await deliverInvitations(deps, context)
  assert.equal(delivered.sent, 3, 'three invitations sent')
  assert.deepEqual(
    deps.sent.sort(),
    ['+447400100001', '+447400100002', 'cat@example.org'],
    'each person gets one message',
  )
})

test('two imports at the same moment cannot text past the daily ceiling between them: the second is refused whole, and sent again it meets the ceiling (PostgreSQL)', {
  skip,
}, async (t) => {
  const deps = depsOn(await racingPostgres(t), 3)
  const second = { csv: 'Dan Dale,07400 100004\nEve Evans,07400 100005', sendBy: 'phone' as const }
  const [first, racing] = await raceImports(
    deps,
    { csv: 'Ann Able,07400 100001\nBen Baker,07400 100002', sendBy: 'phone' },
    second,
  )

  assert.ok(first.ok, 'the first import (2 texts of 3) is saved')
  assert.ok(
    !racing.ok && racing.error instanceof ImportRefused,
    `the second is refused: ${!racing.ok && racing.error}`,
  )
  assert.equal(racing.error.statusCode, 409)
  const again = await outcomeOf(importInvitations(deps, await adminOf(deps), second))
  assert.ok(!again.ok && again.error instanceof ImportRefused, 'sent again, it is refused whole')
  assert.equal(again.error.statusCode, 429)
  assert.match(again.error.message, /at most 3 invitations in 24 hours and 2 have been texted already/)
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

test('an import refused because another is running does not hold up the other units of its shared commit: a unit started in the same turn commits at once (PostgreSQL)', {
  skip,
}, async (t) => {
  const deps = depsOn(await racingPostgres(t))
  const actor = await adminOf(deps)
  const first = await importBeingSaved(deps, actor, { csv: LIST, sendBy: 'phone' })
  // Started in one event-loop turn: one transaction, one commit (server/db/unit-of-work.ts).
  const second = outcomeOf(importInvitations(deps, actor, { csv: 'Dan Dale,07400 100004', sendBy: 'phone' }))
  const signIn = outcomeOf(
    unitOfWork(deps.db, (trx) =>
      makePerson(trx, { firstName: 'Sam', lastName: 'Sign', email: 'sam@example.org' }),
    ),
  )
  // Both settle while the first import still holds its lock (it commits only afterwards).
  const [refused, committed] = await Promise.all([second, signIn])
  first.commit()
  assert.ok((await first.outcome).ok, 'the first import is saved')

  assert.ok(
    !refused.ok && refused.error instanceof ImportRefused,
    `refused at once: ${!refused.ok && refused.error}`,
  )
  assert.equal(refused.error.statusCode, 409)
  assert.ok(committed.ok, 'the other unit of the shared commit is saved')
  const sam = await deps.db
    .selectFrom('contact')
    .select('value')
    .where('value', '=', 'sam@example.org')
    .execute()
  assert.equal(sam.length, 1, 'and is there to read')
  assert.deepEqual(
    Object.fromEntries(await liveByContact(deps.db)),
    { '+447400100001': 1, '+447400100002': 1, 'cat@example.org': 1 },
    'only the first import’s invitations are saved',
  )
})
