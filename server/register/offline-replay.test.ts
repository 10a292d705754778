import assert from 'node:assert/strict'
import { test } from 'node:test'
import { autoClose } from '../../tasks/auto-close.task.js'
import type { Db } from '../db/connect.js'
import type { ClosedBy } from '../db/database.js'
import { answerPushAction, signPushActionToken } from '../push/push.service.js'
import { fireList, fireListSettings, tapForPerson } from '../reception/presence.service.js'
import { rollCallView, startRollCall } from '../reception/roll-call.service.js'
import { claimReminder, finishReminder } from '../reminders/reminder.repository.js'
import { answerReminderLink } from '../reminders/reminder.service.js'
import { reminderToken } from '../reminders/reminder-links.js'
import { buildTestApp, type TestApp } from '../testing/build-test-app.js'
import { eventually } from '../testing/eventually.js'
import { makePerson, makeVisit } from '../testing/factories.js'
import { latch, racingPostgres, someoneWaitsForALock } from '../testing/races.js'
import { personWithRole, sendSavedTap, tapSignIn } from '../testing/reception.js'
import { testDialect } from '../testing/test-database.js'
import { replayTap } from './offline-replay.js'
import { closeLeftOpenVisit, correctAutoClose, signIn } from './register.service.js'
import { findVisit } from './visit.repository.js'

const context = { ip: '203.0.113.9', userAgent: 'test' }
const site = { timeZone: 'Europe/London' }
// Europe/London is UTC in November: the times below are the site's own.
const at = (iso: string) => Date.parse(`2026-11-${iso}Z`)
/** The nightly auto-close's close at 23:59 on the 23rd, run on time. */
const autoCloseAt = { notAfter: at('23T23:59:00'), closedAt: at('23T23:59:00') }

/** Where a person is on the fire list: 'in', 'unconfirmed' with the reason, or not on it. */
async function onFireList(ctx: TestApp, personId: number): Promise<string> {
  const list = await fireList(ctx.app.ctx.db, ctx.clock.now(), fireListSettings(ctx.config))
  const entry = [...list.in, ...list.unconfirmed].find((p) => p.personId === personId)
  return entry ? `${entry.group}${entry.reason ? ` (${entry.reason.kind})` : ''}` : 'not listed'
}

/** Ann signs in at 08:55; at 23:55 she taps "sign out" with no signal; the auto-close runs at 23:59. */
async function annLeftOfflineBeforeTheAutoClose(ctx: TestApp) {
  ctx.clock.set('2026-11-23T08:55:00Z')
  const ann = await personWithRole(ctx, 'ann@example.org', { firstName: 'Ann', lastName: 'Test' })
  await tapSignIn(ann.browser)
  const tappedAt = at('23T23:55:00')
  ctx.clock.set('2026-11-23T23:59:00Z')
  assert.deepEqual(await autoClose({ ...ctx.app.ctx, log: ctx.app.log }), { closed: 1 })
  // The phone finds signal and sends the tap it saved (its clock is right), as often as it must.
  const sendTap = () =>
    sendSavedTap(ann.browser, { action: 'sign-out', at: tappedAt, sentAt: ctx.clock.now(), key: 'ann-2355' })
  return { ...ann, tappedAt, sendTap }
}

test('a sign-out saved offline before the nightly auto-close, sent after it, takes its own time: no longer Unconfirmed', async (t) => {
  const ctx = await buildTestApp(t)
  const ann = await annLeftOfflineBeforeTheAutoClose(ctx)
  ctx.clock.set('2026-11-24T00:10:00Z')
  assert.equal(
    await onFireList(ctx, ann.id),
    'unconfirmed (auto-closed)',
    'the auto-close left her Unconfirmed',
  )

  // The phone finds signal at 00:10 and sends the tap it saved at 23:55.
  const sent = await ann.sendTap()
  assert.equal(sent.statusCode, 200, sent.body)
  assert.equal(sent.json().applied, true, sent.json().message)
  assert.equal(sent.json().state, 'out')
  assert.match(sent.json().message, /sign-out from 23:55 is recorded/)

  const [visit] = await ctx.app.ctx.db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', ann.id)
    .execute()
  assert.equal(visit!.signed_out_at, ann.tappedAt, 'the visit ends when she tapped, not at the auto-close')
  assert.equal(visit!.closed_by, 'person', 'closed by her own sign-out')
  const audit = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('person_id', '=', ann.id)
    .where('action', '=', 'visit.signed-out')
    .executeTakeFirstOrThrow()
  assert.equal(audit.at, ann.tappedAt, 'audited at the time of the tap, as other replays are')
  assert.deepEqual(JSON.parse(audit.detail), {
    visitId: visit!.id,
    via: 'offline-replay',
    wasAutoClosedAt: at('23T23:59:00'),
  })
  assert.equal(
    await onFireList(ctx, ann.id),
    'not listed',
    'no longer Unconfirmed: marshals do not look for her',
  )

  const again = await ann.sendTap()
  assert.deepEqual(again.json(), sent.json(), 'sent again, the same answer and nothing more')
})

test('the answer to a late sign-out gives the end the auto-close had recorded, as of which it closed the visit, not when the run came', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const ann = await makePerson(db, { firstName: 'Ann', lastName: 'Test', email: 'ann@example.org' })
  const visitId = await makeVisit(db, ann, { in: '2026-11-23T08:55:00Z' })
  // The nightly run comes late, at 00:30: it closes Monday's visit as of the end of Monday.
  const ranAt = at('24T00:30:00')
  await closeLeftOpenVisit(db, (await findVisit(db, visitId))!, { notAfter: ranAt, closedAt: ranAt }, site)
  // At 00:40 Ann's phone sends the sign-out she tapped at 23:55 with no signal.
  const now = at('24T00:40:00')
  const sent = await replayTap(
    db,
    { personId: ann, action: 'sign-out', at: at('23T23:55:00'), sentAt: now, now, context },
    site,
  )
  assert.equal(sent.applied, true, sent.message)
  assert.equal(
    sent.message,
    'Your sign-out from 23:55 is recorded (the register had closed your visit automatically as of 23:59, not knowing you had left).',
  )
})

test('a late sign-out the auto-close did not overtake, or that is not a sign-out, is handled as before', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const now = at('24T00:10:00')
  const replay = (personId: number, action: 'sign-in' | 'sign-out', tappedAt: string) =>
    replayTap(db, { personId, action, at: at(tappedAt), sentAt: now, now, context }, site)
  const person = (n: number) =>
    makePerson(db, { firstName: `P${n}`, lastName: 'Test', email: `p${n}@example.org` })

  // Open from 08:55 and closed at 23:59 by the auto-close, or by someone who saw them go.
  const day = (closedBy: ClosedBy) => ({ in: '2026-11-23T08:55:00Z', out: '2026-11-23T23:59:00Z', closedBy })
  const cases: {
    name: string
    visits: { in: string; out?: string; closedBy?: ClosedBy }[]
    tap: ['sign-in' | 'sign-out', string]
    expect: 'superseded' | 'unchanged'
  }[] = [
    ...(['person', 'admin', 'directory', 'deactivated'] as const).map((closedBy) => ({
      name: `a sign-out from before a close by ${closedBy}`,
      visits: [day(closedBy)],
      tap: ['sign-out', '23T23:55:00'] as ['sign-out', string],
      expect: 'superseded' as const,
    })),
    {
      name: 'auto-closed, then a later visit',
      visits: [day('auto'), { in: '2026-11-24T00:05:00Z' }],
      tap: ['sign-out', '23T23:55:00'],
      expect: 'superseded',
    },
    {
      name: 'a sign-in from before the auto-close',
      visits: [day('auto')],
      tap: ['sign-in', '23T23:55:00'],
      expect: 'superseded',
    },
    {
      name: 'a sign-out from before the visit began',
      visits: [{ ...day('auto'), in: '2026-11-23T14:00:00Z' }],
      tap: ['sign-out', '23T13:00:00'],
      expect: 'superseded',
    },
    {
      name: 'a sign-out from after the auto-close',
      visits: [day('auto')],
      tap: ['sign-out', '24T00:05:00'],
      expect: 'unchanged',
    },
  ]
  for (const [i, c] of cases.entries()) {
    const id = await person(10 + i)
    for (const v of c.visits) await makeVisit(db, id, v)
    const before = await db
      .selectFrom('visit')
      .selectAll()
      .where('person_id', '=', id)
      .orderBy('id')
      .execute()
    const result = await replay(id, ...c.tap)
    assert.equal(result.applied, false, `${c.name}: not applied`)
    assert.equal(result.superseded === true, c.expect === 'superseded', `${c.name}: ${result.message}`)
    assert.deepEqual(
      await db.selectFrom('visit').selectAll().where('person_id', '=', id).orderBy('id').execute(),
      before,
      `${c.name}: the register is unchanged`,
    )
  }
})

test('a sign-out saved offline arriving after a sign-in on another device that found them still in is overtaken: they stay on the fire list', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const reception = await makePerson(db, { firstName: 'Rita', lastName: 'Desk', email: 'rita@example.org' })
  // Each signs in at 08:00, taps "Sign out" at 17:00 with no signal (the phone keeps the tap), and is
  // back inside at 17:30, where the register still has them in: the second sign-in changes nothing.
  const signInAgain: Record<string, (personId: number) => Promise<unknown>> = {
    'on another device': (personId) =>
      signIn(db, { personId, now: at('23T17:30:00'), context, via: 'page' }, site),
    'by reception on the board': (personId) =>
      tapForPerson(
        db,
        { personId: reception, at: at('23T17:30:00'), context, subjectId: personId, action: 'sign-in' },
        site,
      ),
    'saved offline on another phone and sent first': (personId) =>
      replayTap(
        db,
        {
          personId,
          action: 'sign-in',
          at: at('23T17:30:00'),
          sentAt: at('23T17:50:00'),
          now: at('23T17:50:00'),
          context,
        },
        site,
      ),
  }
  ctx.clock.set('2026-11-23T18:00:00Z')
  for (const [i, [how, again]] of Object.entries(signInAgain).entries()) {
    const id = await makePerson(db, {
      firstName: `Back${i}`,
      lastName: 'Test',
      email: `back${i}@example.org`,
    })
    await makeVisit(db, id, { in: '2026-11-23T08:00:00Z' })
    await again(id)
    assert.equal(await onFireList(ctx, id), 'in', `${how}: in at 17:30`)
    // At 18:00 the first phone finds signal and sends the 17:00 tap.
    const result = await replayTap(
      db,
      {
        personId: id,
        action: 'sign-out',
        at: at('23T17:00:00'),
        sentAt: at('23T18:00:00'),
        now: at('23T18:00:00'),
        context,
      },
      site,
    )
    assert.equal(result.applied, false, `${how}: ${result.message}`)
    assert.equal(result.superseded, true, `${how}: overtaken by the 17:30 sign-in`)
    assert.equal(await onFireList(ctx, id), 'in', `${how}: still on the fire list at 18:00`)
  }
})

test('a sign-out saved offline before a sign-in on another device, sent after the auto-close, does not correct the auto-close: still Unconfirmed', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const id = await makePerson(db, { firstName: 'Late', lastName: 'Worker', email: 'late@example.org' })
  await makeVisit(db, id, { in: '2026-11-23T08:00:00Z' })
  // 23:50: "Sign out" with no signal on her phone; 23:55: back at her desk, she signs in on her laptop.
  await signIn(db, { personId: id, now: at('23T23:55:00'), context, via: 'page' }, site)
  ctx.clock.set('2026-11-23T23:59:00Z')
  assert.deepEqual(await autoClose({ ...ctx.app.ctx, log: ctx.app.log }), { closed: 1 })
  ctx.clock.set('2026-11-24T00:10:00Z')
  const result = await replayTap(
    db,
    {
      personId: id,
      action: 'sign-out',
      at: at('23T23:50:00'),
      sentAt: at('24T00:10:00'),
      now: at('24T00:10:00'),
      context,
    },
    site,
  )
  assert.equal(result.applied, false, result.message)
  const [visit] = await db.selectFrom('visit').selectAll().where('person_id', '=', id).execute()
  assert.equal(visit!.closed_by, 'auto', 'the auto-close stands: nobody saw her leave after 23:55')
  assert.equal(await onFireList(ctx, id), 'unconfirmed (auto-closed)')
})

test('a roll call running when the late sign-out arrives keeps her line, saying she left before the alarm; Ben, who signs out during it, still counts', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const ann = await annLeftOfflineBeforeTheAutoClose(ctx)
  ctx.clock.set('2026-11-24T00:20:00Z')
  const ben = await personWithRole(ctx, 'ben@example.org', { firstName: 'Ben', lastName: 'Test' })
  await tapSignIn(ben.browser)
  const marshal = await personWithRole(
    ctx,
    'mo@example.org',
    { firstName: 'Mo', lastName: 'Marshal' },
    'reception',
  )

  ctx.clock.set('2026-11-24T00:30:00Z')
  const { rollCall } = await startRollCall(db, {
    personId: marshal.id,
    at: ctx.clock.now(),
    context,
    kind: 'drill',
    fireList: fireListSettings(ctx.config),
  })
  const lines = async () =>
    (await rollCallView(db, rollCall.id)).lines.map((l) => [l.firstName, l.confirmed, l.reason, l.status])
  const atStart = await lines()
  assert.deepEqual(atStart, [
    ['Ann', false, 'auto-closed', 'unaccounted'],
    ['Ben', true, null, 'unaccounted'],
  ])

  // Ben signs out at the door during the roll call; Ann's phone sends her 23:55 sign-out.
  ctx.clock.set('2026-11-24T00:35:00Z')
  await ben.browser.get('/')
  await ben.browser.submit('/sign-out')
  const sent = await ann.sendTap()
  assert.equal(sent.json().applied, true, sent.json().message)
  assert.equal(await onFireList(ctx, ann.id), 'not listed', 'the fire list from now on has her out')
  // Her line stays, with her sign-out: she left at 23:55, before the alarm, so she is no longer
  // counted. Ben left during it: still to be accounted for until a marshal confirms him.
  assert.deepEqual(await lines(), atStart, 'both lines stay as they were at the alarm')
  const view = await rollCallView(db, rollCall.id)
  assert.deepEqual(
    view.lines.map((l) => [l.firstName, l.signedOutAt, l.leftBeforeAlarm]),
    [
      ['Ann', ann.tappedAt, true],
      ['Ben', at('24T00:35:00'), false],
    ],
  )
  assert.deepEqual([view.counts.total, view.counts.unaccounted], [1, 1])
})

const postgresOnly = {
  skip:
    testDialect !== 'postgres' &&
    'SQLite has one writer: nothing can commit in between (TEST_DATABASE=postgres)',
}

/** Ann's visit, open since 08:55, and the tap she saved at 23:55. */
async function annOnRacingPostgres(db: Db) {
  const ann = await makePerson(db, { firstName: 'Ann', lastName: 'Test', email: 'ann@example.org' })
  const visitId = await makeVisit(db, ann, { in: '2026-11-23T08:55:00Z' })
  const now = at('23T23:59:00.500')
  const tap = { personId: ann, action: 'sign-out' as const, at: at('23T23:55:00'), sentAt: now, now, context }
  return { ann, visitId, tap }
}

/**
 * Runs `change` in a transaction that holds its rows until the replay waits for one of them, then
 * commits it: on PostgreSQL, as a web process and the worker racing.
 */
async function commitsWhileTheReplayWaits(
  db: Db,
  change: (trx: Db) => Promise<unknown>,
  replay: () => Promise<unknown>,
  /** The replay may also finish without waiting (nothing held it back): the test then sees what it did. */
  options: { orFinishes?: boolean } = {},
) {
  const holding = latch()
  const released = latch()
  const holder = db.transaction().execute(async (trx) => {
    await change(trx)
    holding.open()
    await released.reached
  })
  await holding.reached
  let finished = false
  const replayed = replay().finally(() => {
    finished = true
  })
  await eventually(
    async () => (options.orFinishes === true && finished) || (await someoneWaitsForALock(db)),
    'the replay to wait for the visit',
  )
  released.open()
  await holder
  return replayed
}

test(
  'the auto-close committing while the late sign-out waits for the visit: the sign-out still takes its own time (PostgreSQL)',
  postgresOnly,
  async (t) => {
    const db = await racingPostgres(t)
    const { visitId, tap } = await annOnRacingPostgres(db)
    const result = await commitsWhileTheReplayWaits(
      db,
      async (trx) => closeLeftOpenVisit(trx, (await findVisit(trx, visitId))!, autoCloseAt, site),
      () => replayTap(db, tap, site),
    )
    assert.equal((result as { applied: boolean }).applied, true)
    const visit = await findVisit(db, visitId)
    assert.deepEqual([visit!.signed_out_at, visit!.closed_by], [tap.at, 'person'])
  },
)

test(
  'her own correction committing while the late sign-out waits: the sign-out overwrites nothing (PostgreSQL)',
  postgresOnly,
  async (t) => {
    const db = await racingPostgres(t)
    const { ann, visitId, tap } = await annOnRacingPostgres(db)
    await closeLeftOpenVisit(db, (await findVisit(db, visitId))!, autoCloseAt, site)
    // She answers the reminder's "I've left" with 23:30 at the very moment her phone sends its tap.
    const result = await commitsWhileTheReplayWaits(
      db,
      (trx) =>
        correctAutoClose(
          trx,
          { personId: ann, visitId, leftAt: at('23T23:30:00'), now: tap.now, context },
          site,
        ),
      () => replayTap(db, { ...tap, now: tap.now + 1 }, site),
    )
    assert.equal((result as { applied: boolean }).applied, false)
    const visit = await findVisit(db, visitId)
    assert.deepEqual(
      [visit!.signed_out_at, visit!.closed_by],
      [at('23T23:30:00'), 'person'],
      'her 23:30 stands',
    )
  },
)

test(
  'the late sign-out committing while her own correction waits: the correction says it changed nothing and audits nothing (PostgreSQL)',
  postgresOnly,
  async (t) => {
    const db = await racingPostgres(t)
    const { ann, visitId, tap } = await annOnRacingPostgres(db)
    await closeLeftOpenVisit(db, (await findVisit(db, visitId))!, autoCloseAt, site)
    // Her phone's 23:55 tap lands at the very moment she answers the reminder's "I've left" with 23:30.
    const corrected = await commitsWhileTheReplayWaits(
      db,
      (trx) => replayTap(trx, tap, site),
      () =>
        correctAutoClose(
          db,
          { personId: ann, visitId, leftAt: at('23T23:30:00'), now: tap.now + 1, context },
          site,
        ),
    )
    const result = corrected as Awaited<ReturnType<typeof correctAutoClose>>
    assert.equal(result.changed, false, result.message)
    assert.equal(result.message, 'That visit is already closed.')
    const visit = await findVisit(db, visitId)
    assert.deepEqual([visit!.signed_out_at, visit!.closed_by], [tap.at, 'person'], 'the 23:55 tap stands')
    const audited = await db
      .selectFrom('audit_event')
      .select('action')
      .where('person_id', '=', ann)
      .where('action', '=', 'visit.closed-late')
      .execute()
    assert.deepEqual(audited, [], 'no correction is recorded that did not happen')
  },
)

/** Ann, in since 08:55, taps "Sign out" at 17:00 with no signal; at 18:00 she is at her laptop. */
async function annBackAtHerDesk(db: Db) {
  const { ann, visitId } = await annOnRacingPostgres(db)
  const now = at('23T18:00:00')
  const tap = { personId: ann, action: 'sign-out' as const, at: at('23T17:00:00'), sentAt: now, now, context }
  const signInAgain = (on: Db) => signIn(on, { personId: ann, now, context, via: 'page' }, site)
  return { ann, visitId, tap, now, signInAgain }
}

test(
  'a sign-in on another device committing while a sign-out saved before it waits for the visit: the sign-out is overtaken, she stays inside (PostgreSQL)',
  postgresOnly,
  async (t) => {
    const db = await racingPostgres(t)
    const { visitId, tap, now, signInAgain } = await annBackAtHerDesk(db)
    // 18:00: she signs in on her laptop ("already signed in") as her phone finds signal and sends the 17:00 tap.
    const result = await commitsWhileTheReplayWaits(db, signInAgain, () => replayTap(db, tap, site))
    assert.equal((result as { applied: boolean }).applied, false, (result as { message: string }).message)
    const visit = await findVisit(db, visitId)
    assert.deepEqual([visit!.signed_out_at, visit!.signed_in_again_at], [null, now], 'still inside')
  },
)

test(
  'a sign-out saved before a sign-in on another device, committing while that sign-in waits for the visit: the sign-in opens a visit, she is not told she is in while out (PostgreSQL)',
  postgresOnly,
  async (t) => {
    const db = await racingPostgres(t)
    const { ann, tap, now, signInAgain } = await annBackAtHerDesk(db)
    const result = (await commitsWhileTheReplayWaits(
      db,
      (trx) => replayTap(trx, tap, site),
      () => signInAgain(db),
    )) as Awaited<ReturnType<typeof signIn>>
    assert.equal(result.changed, true, result.message)
    const open = await db
      .selectFrom('visit')
      .select('signed_in_at')
      .where('person_id', '=', ann)
      .where('signed_out_at', 'is', null)
      .execute()
    assert.deepEqual(
      open.map((v) => Number(v.signed_in_at)),
      [now],
      'inside from 18:00, on the fire list',
    )
  },
)

/**
 * Ann, in since 08:55 and reminded at 17:30, taps "Sign out" at 17:40 with no signal (no Background
 * Sync); at 18:00 she answers "Still here" (the notification's button, or the message's link) as her
 * phone finds signal and sends the 17:40 tap.
 */
async function annSaysStillHere(db: Db, via: 'push' | 'link') {
  const { ann, visitId } = await annOnRacingPostgres(db)
  const remindedAt = at('23T17:30:00')
  const reminder = await claimReminder(db, { personId: ann, day: '2026-11-23', visitId, at: remindedAt })
  await finishReminder(db, reminder!.id, { status: 'sent', channel: via, at: remindedAt })
  const now = at('23T18:00:00')
  const tap = { personId: ann, action: 'sign-out' as const, at: at('23T17:40:00'), sentAt: now, now, context }
  const stillHere = (on: Db, when = now) =>
    via === 'push'
      ? answerPushAction(
          on,
          {
            key: linkKey,
            token: signPushActionToken(linkKey, { personId: ann, visitId, expiresAt: when + 3_600_000 }),
            action: 'still-here',
            now: when,
            context,
          },
          site,
        )
      : answerReminderLink(
          on,
          { key: linkKey, token: reminderToken(linkKey, reminder!.id, 'still-here'), now: when, context },
          site,
        )
  const answer = () =>
    db
      .selectFrom('reminder')
      .select(['answer', 'answered_at'])
      .where('id', '=', reminder!.id)
      .executeTakeFirst()
  return { visitId, tap, now, stillHere, answer }
}

const linkKey = Buffer.alloc(32, 7)

for (const via of ['push', 'link'] as const) {
  test(
    `"Still here" (${via}) committing while a sign-out saved before it is replayed: the sign-out is overtaken, she stays inside (PostgreSQL)`,
    postgresOnly,
    async (t) => {
      const db = await racingPostgres(t)
      const { visitId, tap, now, stillHere, answer } = await annSaysStillHere(db, via)
      const result = (await commitsWhileTheReplayWaits(db, stillHere, () => replayTap(db, tap, site), {
        orFinishes: true,
      })) as Awaited<ReturnType<typeof replayTap>>
      assert.deepEqual(await answer(), { answer: 'still-here', answered_at: now })
      const visit = await findVisit(db, visitId)
      assert.equal(visit!.signed_out_at, null, 'she said Still here at 18:00, after the 17:40 tap: inside')
      assert.equal(result.applied, false, result.message)
    },
  )
}

for (const via of ['push', 'link'] as const) {
  test(
    `a sign-out saved before "Still here" (${via}), committing while the answer waits for the visit: she is told the register has her out, not that she is still signed in (PostgreSQL)`,
    postgresOnly,
    async (t) => {
      const db = await racingPostgres(t)
      const { visitId, tap, stillHere } = await annSaysStillHere(db, via)
      const result = (await commitsWhileTheReplayWaits(
        db,
        (trx) => replayTap(trx, tap, site),
        () => stillHere(db),
        {
          orFinishes: true,
        },
      )) as { message: string }
      assert.equal((await findVisit(db, visitId))!.signed_out_at, tap.at, 'the 17:40 tap came first')
      assert.match(result.message, /The register has you signed out.*sign in again/)
    },
  )
}

for (const via of ['push', 'link'] as const) {
  test(
    `"Still here" (${via}) after the auto-close, committing while a sign-out saved before it is replayed: the auto-close stands, still Unconfirmed (PostgreSQL)`,
    postgresOnly,
    async (t) => {
      const db = await racingPostgres(t)
      const { visitId, tap, stillHere } = await annSaysStillHere(db, via)
      await closeLeftOpenVisit(db, (await findVisit(db, visitId))!, autoCloseAt, site)
      // 00:10: she answers "Still here" as her phone sends the 17:40 tap.
      const now = at('24T00:10:00')
      const result = (await commitsWhileTheReplayWaits(
        db,
        (trx) => stillHere(trx, now),
        () => replayTap(db, { ...tap, sentAt: now, now }, site),
        { orFinishes: true },
      )) as Awaited<ReturnType<typeof replayTap>>
      const visit = await findVisit(db, visitId)
      assert.deepEqual(
        [visit!.signed_out_at, visit!.closed_by],
        [autoCloseAt.notAfter, 'auto'],
        'she said Still here after the tap: nobody saw her leave',
      )
      assert.equal(result.applied, false, result.message)
    },
  )
}
