import assert from 'node:assert/strict'
import { test } from 'node:test'
import { autoClose } from '../../tasks/auto-close.task.js'
import { sendReminders } from '../../tasks/send-reminders.task.js'
import { adminCloseVisit } from '../admin/people.service.js'
import { replayTap } from '../register/offline-replay.js'
import { correctAutoClose, signOut } from '../register/register.service.js'
import { buildTestApp, type TestApp, type TestBrowser } from '../testing/build-test-app.js'
import { personWithRole, tapSignIn, tapSignOut } from '../testing/reception.js'
import { auditedAs, marshalEnds, marshalStarts, moMarshal, rollCallCounts } from '../testing/roll-call.js'
import { fireListSettings, tapForPerson } from './presence.service.js'
import { describeSignOut, markOnRollCall, rollCallView, startRollCall } from './roll-call.service.js'

const context = { ip: '203.0.113.9', userAgent: 'test' }
const site = { timeZone: 'Europe/London' }
// Europe/London is UTC in November: the times below are the site's own.
const at = (time: string) => Date.parse(`2026-11-24T${time}:00Z`)

/** Each line as the marshal reads it: name, what the sign-out says (if any), status. */
async function lines(ctx: TestApp, rollCallId: number) {
  const view = await rollCallView(ctx.app.ctx.db, rollCallId)
  return view.lines.map((l) => [l.firstName, describeSignOut(l, view.rollCall, site.timeZone), l.status])
}

test('a sign-out that reaches the server during a roll call shows on the line: before the alarm it no longer counts, during it it still does until a marshal confirms', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T08:00:00Z')
  const mo = await moMarshal(ctx)
  const people: Record<string, { id: number; browser: TestBrowser }> = {}
  for (const name of ['Ann', 'Ben', 'Cat', 'Dan']) {
    people[name] = await personWithRole(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Test',
    })
    await tapSignIn(people[name]!.browser)
  }
  const id = (name: string) => people[name]!.id
  /** A sign-out saved on a phone with no signal, sent later (both times by the phone's clock). */
  const sentLate = (name: string, tappedAt: number, sentAt: number) =>
    replayTap(
      db,
      { personId: id(name), action: 'sign-out', at: tappedAt, sentAt, now: ctx.clock.now(), context },
      site,
    )

  // 09:15 by the server's clock: Ann taps "sign out" at the door with no signal. Her phone's clock
  // runs 3 minutes slow, so it dates the tap 09:12 and, when it finds signal, the send 09:37.
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  assert.deepEqual(await lines(ctx, rollCall.id), [
    ['Ann', null, 'unaccounted'],
    ['Ben', null, 'unaccounted'],
    ['Cat', null, 'unaccounted'],
    ['Dan', null, 'unaccounted'],
  ])
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 4)

  ctx.clock.set('2026-11-24T09:40:00Z')
  const replayed = await sentLate('Ann', at('09:12'), at('09:37'))
  assert.equal(replayed.applied, true, replayed.message)
  assert.deepEqual(
    (await lines(ctx, rollCall.id))[0],
    ['Ann', 'Left before the alarm — signed out 09:15, reached the server late', 'unaccounted'],
    'she was not inside when the alarm rang: her line says so and stays',
  )
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 3, accounted: 0, unaccounted: 3, missing: 0, help: 0, unmarked: 3 },
    'she no longer counts as on the list nor as not accounted for',
  )
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.left-before-alarm')).map((a) => [
      a.personId,
      a.at,
      a.rollCallId,
      a.signedOutAt,
    ]),
    [[id('Ann'), at('09:40'), rollCall.id, at('09:15')]],
    'audited when it reached the server',
  )

  // During the alarm: Ben taps out at the door, reception signs Cat out, and Dan's phone sends a
  // tap it saved at 09:35 (after the alarm) with no signal.
  ctx.clock.set('2026-11-24T09:41:00Z')
  await tapSignOut(people.Ben!.browser)
  ctx.clock.set('2026-11-24T09:42:00Z')
  const desk = await tapForPerson(
    db,
    { personId: mo.id, at: ctx.clock.now(), context, subjectId: id('Cat'), action: 'sign-out' },
    site,
  )
  assert.equal(desk.changed, true, desk.message)
  ctx.clock.set('2026-11-24T09:45:00Z')
  const late = await sentLate('Dan', at('09:35'), at('09:45'))
  assert.equal(late.applied, true, late.message)
  assert.deepEqual(await lines(ctx, rollCall.id), [
    ['Ann', 'Left before the alarm — signed out 09:15, reached the server late', 'unaccounted'],
    ['Ben', 'Signed out at 09:41, during the alarm', 'unaccounted'],
    ['Cat', 'Signed out at 09:42, during the alarm', 'unaccounted'],
    ['Dan', 'Signed out at 09:35, during the alarm', 'unaccounted'],
  ])
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 3, accounted: 0, unaccounted: 3, missing: 0, help: 0, unmarked: 3 },
    'a tap on a phone is no proof they reached the assembly point: still not accounted for',
  )
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.signed-out-during')).map((a) => [a.personId, a.signedOutAt]),
    [
      [id('Ben'), at('09:41')],
      [id('Cat'), at('09:42')],
      [id('Dan'), at('09:35')],
    ],
  )
  // The list agrees with the visits: each line's time is its visit's sign-out.
  const visits = await db.selectFrom('visit').select(['person_id', 'signed_out_at']).execute()
  const view = await rollCallView(db, rollCall.id)
  for (const line of view.lines) {
    const visit = visits.find((v) => v.person_id === line.personId)!
    assert.equal(line.signedOutAt, visit.signed_out_at, `${line.firstName}'s line and visit agree`)
  }

  // A marshal confirms Ben at the assembly point, as usual.
  ctx.clock.set('2026-11-24T09:46:00Z')
  await markOnRollCall(db, {
    personId: mo.id,
    at: ctx.clock.now(),
    context,
    rollCallId: rollCall.id,
    subject: { person: id('Ben') },
    status: 'safe',
  })
  assert.deepEqual(
    (await rollCallCounts(ctx, rollCall.id)).accounted,
    1,
    'Ben is safe once a marshal says so',
  )
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 2)

  // Ann comes back in during the roll call: she joins it like anyone signing in.
  ctx.clock.set('2026-11-24T09:50:00Z')
  await tapSignIn(people.Ann!.browser)
  assert.deepEqual((await lines(ctx, rollCall.id))[0], ['Ann', null, 'unaccounted'])
  const back = await rollCallView(db, rollCall.id)
  assert.deepEqual(
    [back.lines[0]!.confirmed, back.lines[0]!.signedInAt, back.counts.total, back.counts.unaccounted],
    [true, at('09:50'), 4, 3],
    'in since 09:50, and not accounted for again',
  )

  // The end report and its numbers agree with the lines.
  ctx.clock.set('2026-11-24T10:00:00Z')
  const before = await rollCallView(db, rollCall.id)
  await marshalEnds(ctx, mo.id, rollCall.id)
  const [ended] = await auditedAs(ctx, 'roll-call.ended')
  assert.deepEqual(ended.counts, before.counts)
  assert.deepEqual(
    ended.report.map((r: { firstName: string; signedOutAt: number | null; leftBeforeAlarm: boolean }) => [
      r.firstName,
      r.signedOutAt,
      r.leftBeforeAlarm,
    ]),
    [
      ['Ann', null, false],
      ['Ben', at('09:41'), false],
      ['Cat', at('09:42'), false],
      ['Dan', at('09:35'), false],
    ],
  )
  // A sign-out after the end changes nothing on the ended roll call.
  ctx.clock.set('2026-11-24T10:05:00Z')
  await tapSignOut(people.Ann!.browser)
  assert.deepEqual((await lines(ctx, rollCall.id))[0], ['Ann', null, 'unaccounted'])
})

test('the reminder\'s "I\'ve left" during a roll call: with a time before the alarm she left before it; without one, she signed out during it', async (t) => {
  const ctx = await buildTestApp(t, { env: { REMINDER_MAX_PER_MINUTE: '6000' } })
  ctx.clock.set('2026-11-24T08:55:00Z')
  const mo = await moMarshal(ctx)
  const eve = await personWithRole(ctx, 'eve@example.org', { firstName: 'Eve', lastName: 'Test' })
  const fay = await personWithRole(ctx, 'fay@example.org', { firstName: 'Fay', lastName: 'Test' })
  await tapSignIn(eve.browser)
  await tapSignIn(fay.browser)
  ctx.clock.set('2026-11-24T17:30:00Z')
  await sendReminders({ ...ctx.app.ctx, log: ctx.app.log })
  const leftLink = (to: string) => {
    const line = ctx.outbox.find((l) => l.startsWith(`message to ${to} (reminder)`))
    assert.ok(line, `a reminder went to ${to}`)
    return /http:\/\/register\.test(\/r\/[\w-]+)/.exec(line)![1]!
  }
  ctx.clock.set('2026-11-24T17:45:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  ctx.clock.set('2026-11-24T17:50:00Z')
  const answer = (to: string, fields: Record<string, string>) =>
    eve.browser.request({
      method: 'POST',
      url: leftLink(to),
      payload: new URLSearchParams(fields).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
  assert.equal((await answer('eve@example.org', {})).statusCode, 200)
  assert.equal((await answer('fay@example.org', { time: '17:20' })).statusCode, 200)
  assert.deepEqual(await lines(ctx, rollCall.id), [
    ['Eve', 'Signed out at 17:50, during the alarm', 'unaccounted'],
    ['Fay', 'Left before the alarm — signed out 17:20, reached the server late', 'unaccounted'],
  ])
  assert.deepEqual(
    [(await rollCallCounts(ctx, rollCall.id)).total, (await rollCallCounts(ctx, rollCall.id)).unaccounted],
    [1, 1],
  )
})

test('closing an older visit during a roll call leaves the line of the visit that put them on it alone', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-23T08:55:00Z')
  const mo = await moMarshal(ctx)
  const hal = await personWithRole(ctx, 'hal@example.org', { firstName: 'Hal', lastName: 'Test' })
  await tapSignIn(hal.browser)
  ctx.clock.set('2026-11-23T23:59:00Z')
  await autoClose({ ...ctx.app.ctx, log: ctx.app.log })
  const yesterday = await db
    .selectFrom('visit')
    .select('id')
    .where('person_id', '=', hal.id)
    .executeTakeFirstOrThrow()
  // Today he is in again when the alarm rings.
  ctx.clock.set('2026-11-24T08:00:00Z')
  await tapSignIn(hal.browser)
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  // He says when he left yesterday (the reminder's link): that is not today's visit.
  ctx.clock.set('2026-11-24T09:35:00Z')
  const corrected = await correctAutoClose(
    db,
    {
      personId: hal.id,
      visitId: yesterday.id,
      leftAt: Date.parse('2026-11-23T17:00:00Z'),
      now: ctx.clock.now(),
      context,
    },
    site,
  )
  assert.equal(corrected.changed, true, corrected.message)
  assert.deepEqual(await lines(ctx, rollCall.id), [['Hal', null, 'unaccounted']])
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 1, 'he is inside: still to be found')
})

test('an administrator closing a visit during a roll call at the time they left shows on the line as any sign-out does', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T08:00:00Z')
  const mo = await moMarshal(ctx)
  const admin = await personWithRole(ctx, 'ada@example.org', { firstName: 'Ada', lastName: 'Admin' }, 'admin')
  const people: Record<string, number> = {}
  for (const name of ['Ann', 'Ben']) {
    const person = await personWithRole(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Test',
    })
    await tapSignIn(person.browser)
    people[name] = person.id
  }
  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  // 09:40: told that Ann left at 09:10 and Ben at 09:35, an administrator closes their visits.
  ctx.clock.set('2026-11-24T09:40:00Z')
  const actor = { personId: admin.id, at: ctx.clock.now(), context }
  for (const [name, leftAt] of [
    ['Ann', at('09:10')],
    ['Ben', at('09:35')],
  ] as const) {
    const open = await db
      .selectFrom('visit')
      .select('id')
      .where('person_id', '=', people[name]!)
      .where('signed_out_at', 'is', null)
      .executeTakeFirstOrThrow()
    await adminCloseVisit(db, actor, {
      personId: people[name]!,
      visitId: open.id,
      leftAt,
      note: 'told by a colleague',
    })
  }
  assert.deepEqual(await lines(ctx, rollCall.id), [
    ['Ann', 'Left before the alarm — signed out 09:10, reached the server late', 'unaccounted'],
    ['Ben', 'Signed out at 09:35, during the alarm', 'unaccounted'],
  ])
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 1, accounted: 0, unaccounted: 1, missing: 0, help: 0, unmarked: 1 },
    'Ann was not inside when the alarm rang; Ben still counts until a marshal confirms him',
  )
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.left-before-alarm')).map((a) => [a.personId, a.at, a.signedOutAt]),
    [[people.Ann, at('09:40'), at('09:10')]],
  )
})

test('a sign-out dated after the alarm that commits before the roll call reads the list (it waited for it): on the list, signed out during the alarm, still not accounted for', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T08:00:00Z')
  const mo = await moMarshal(ctx)
  const eve = await personWithRole(ctx, 'eve@example.org', { firstName: 'Eve', lastName: 'Test' })
  await tapSignIn(eve.browser)
  // The marshal taps "start" at 09:30:00.000; Eve's tap at the door, a few milliseconds later, is
  // already being written: the start waits for it (waitForSignInsInFlight), then reads the list.
  const alarm = at('09:30')
  await signOut(db, { personId: eve.id, now: alarm + 5, context }, site)
  const { rollCall } = await startRollCall(db, {
    personId: mo.id,
    at: alarm,
    context,
    kind: 'real',
    fireList: fireListSettings(ctx.config),
  })
  assert.deepEqual(
    await lines(ctx, rollCall.id),
    [['Eve', 'Signed out at 09:30, during the alarm', 'unaccounted']],
    'her tap is no proof she reached the assembly point',
  )
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 1)
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.signed-out-during')).map((a) => [a.personId, a.rollCallId]),
    [[eve.id, rollCall.id]],
  )
})
