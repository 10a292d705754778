import assert from 'node:assert/strict'
import { test } from 'node:test'
import { autoClose } from '../../tasks/auto-close.task.js'
import { buildTestApp, type TestApp } from '../testing/build-test-app.js'
import { makePerson } from '../testing/factories.js'
import { auditedAs, marshalEnds, marshalStarts, moMarshal, rollCallCounts } from '../testing/roll-call.js'
import { signInVisitor, signOutVisitor, type VisitorSource } from '../visitors/visitor.service.js'
import { describeSignOut, markOnRollCall, rollCallView } from './roll-call.service.js'

const context = { ip: '203.0.113.9', userAgent: 'test' }
const site = { timeZone: 'Europe/London', defaultRegion: 'GB' }
// Europe/London is UTC in November: the times below are the site's own.
const at = (time: string) => Date.parse(`2026-11-24T${time}:00Z`)
const kiosk: VisitorSource = { via: 'kiosk', kiosk: null, personId: null, context }

/** Each visitor's line as the marshal reads it: name, what the sign-out says (if any), status. */
async function visitorLines(ctx: TestApp, rollCallId: number) {
  const view = await rollCallView(ctx.app.ctx.db, rollCallId)
  return view.visitors.map((l) => [l.name, describeSignOut(l, view.rollCall, site.timeZone), l.status])
}

/**
 * Mo the marshal, and Zoë's visitors at 08:00: `arrive` signs one in at the kiosk now, `leave` signs
 * one out (made `when`, reaching the server now), at the kiosk or by reception.
 */
async function zoesVisitors(ctx: TestApp) {
  const { db } = ctx.app.ctx
  ctx.clock.set('2026-11-24T08:00:00Z')
  const mo = await moMarshal(ctx)
  const host = await makePerson(db, { firstName: 'Zoë', lastName: 'Host', email: 'zoe@example.org' })
  const visitorId: Record<string, number> = {}
  const arrive = async (name: string) => {
    const { visitor } = await signInVisitor(
      db,
      {
        input: { name, hostId: host },
        source: kiosk,
        at: ctx.clock.now(),
        now: ctx.clock.now(),
        noticeId: null,
      },
      site,
    )
    visitorId[name] = visitor.id
  }
  const leave = (name: string, when: number, source: VisitorSource = kiosk) =>
    signOutVisitor(db, {
      visitorId: visitorId[name]!,
      at: when,
      now: ctx.clock.now(),
      closedBy: source.via === 'reception' ? 'reception' : 'visitor',
      source,
    })
  return { mo, visitorId, arrive, leave }
}

test("a visitor's sign-out that reaches the server during a roll call shows on their line: dated before the alarm they no longer count, during it they still do until a marshal confirms", async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { mo, visitorId, arrive, leave } = await zoesVisitors(ctx)
  for (const name of ['Val Early', 'Vic During', 'Viv Stays', 'Wes Missing']) await arrive(name)

  ctx.clock.set('2026-11-24T09:30:00Z')
  const rollCall = await marshalStarts(ctx, mo.id)
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 4)

  // 09:40: a kiosk that had no network sends Val's sign-out, made at 09:15 by its clock; Wes's, made
  // at 09:20, arrives too. Neither was inside when the alarm rang.
  ctx.clock.set('2026-11-24T09:40:00Z')
  assert.equal((await leave('Val Early', at('09:15'))).changed, true)
  assert.equal((await leave('Wes Missing', at('09:20'))).changed, true)
  // 09:41: reception signs Vic out from the board, during the alarm.
  ctx.clock.set('2026-11-24T09:41:00Z')
  const desk: VisitorSource = { via: 'reception', kiosk: null, personId: mo.id, context }
  assert.equal((await leave('Vic During', ctx.clock.now(), desk)).changed, true)

  assert.deepEqual(await visitorLines(ctx, rollCall.id), [
    ['Val Early', 'Left before the alarm — signed out 09:15, reached the server late', 'unaccounted'],
    ['Vic During', 'Signed out at 09:41, during the alarm', 'unaccounted'],
    ['Viv Stays', null, 'unaccounted'],
    ['Wes Missing', 'Left before the alarm — signed out 09:20, reached the server late', 'unaccounted'],
  ])
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 2, accounted: 0, unaccounted: 2, missing: 0, help: 0, unmarked: 2 },
    'Val and Wes are off the list; Vic still counts: leaving the kiosk is no proof of reaching the assembly point',
  )
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.left-before-alarm')).map((a) => [
      a.at,
      a.visitorId,
      a.signedOutAt,
      a.startedAt,
    ]),
    [
      [at('09:40'), visitorId['Val Early'], at('09:15'), at('09:30')],
      [at('09:40'), visitorId['Wes Missing'], at('09:20'), at('09:30')],
    ],
    'audited when it reached the server',
  )
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.signed-out-during')).map((a) => [
      a.personId,
      a.rollCallId,
      a.visitorId,
      a.signedOutAt,
    ]),
    [[mo.id, rollCall.id, visitorId['Vic During'], at('09:41')]],
    'by whoever signed them out',
  )
  // The line agrees with the visit.
  const view = await rollCallView(db, rollCall.id)
  for (const line of view.visitors) {
    const visit = await db
      .selectFrom('visitor')
      .select('signed_out_at')
      .where('id', '=', line.visitorId)
      .executeTakeFirstOrThrow()
    assert.equal(line.signedOutAt, visit.signed_out_at, `${line.name}'s line and visit agree`)
  }

  // A marshal confirms Vic at the assembly point; Wes is marked missing wherever he is: he counts.
  ctx.clock.set('2026-11-24T09:45:00Z')
  const mark = (name: string, status: 'safe' | 'missing') =>
    markOnRollCall(db, {
      personId: mo.id,
      at: ctx.clock.now(),
      context,
      rollCallId: rollCall.id,
      subject: { visitor: visitorId[name]! },
      status,
    })
  await mark('Vic During', 'safe')
  await mark('Wes Missing', 'missing')
  assert.deepEqual(
    await rollCallCounts(ctx, rollCall.id),
    { total: 2, accounted: 1, unaccounted: 2, missing: 1, help: 0, unmarked: 1 },
    'Viv still to be found, and Wes, marked missing',
  )

  // A visitor arriving during the roll call joins it; their sign-out during it shows like Vic's.
  ctx.clock.set('2026-11-24T09:50:00Z')
  await arrive('Ada Arrives')
  ctx.clock.set('2026-11-24T09:52:00Z')
  await leave('Ada Arrives', ctx.clock.now())
  assert.deepEqual((await visitorLines(ctx, rollCall.id))[0], [
    'Ada Arrives',
    'Signed out at 09:52, during the alarm',
    'unaccounted',
  ])

  // The auto-close is no sign-out: nobody saw Viv leave, so her line says nothing new.
  ctx.clock.set('2026-11-24T09:55:00Z')
  await autoClose({ ...ctx.app.ctx, log: ctx.app.log })
  assert.deepEqual((await visitorLines(ctx, rollCall.id))[3], ['Viv Stays', null, 'unaccounted'])

  // The end report and its numbers agree with the lines.
  ctx.clock.set('2026-11-24T10:00:00Z')
  const before = await rollCallView(db, rollCall.id)
  await arrive('Pat After')
  await marshalEnds(ctx, mo.id, rollCall.id)
  const [ended] = await auditedAs(ctx, 'roll-call.ended')
  assert.equal(ended.counts.total, before.counts.total + 1, 'Pat arrived just before the end')
  assert.deepEqual(
    ended.visitors.map((v: { visitorId: number; signedOutAt: number | null; leftBeforeAlarm: boolean }) => [
      v.visitorId,
      v.signedOutAt,
      v.leftBeforeAlarm,
    ]),
    [
      [visitorId['Ada Arrives'], at('09:52'), false],
      [visitorId['Pat After'], null, false],
      [visitorId['Val Early'], at('09:15'), true],
      [visitorId['Vic During'], at('09:41'), false],
      [visitorId['Viv Stays'], null, false],
      [visitorId['Wes Missing'], at('09:20'), true],
    ],
  )
  // A sign-out after the end changes nothing on the ended roll call.
  ctx.clock.set('2026-11-24T10:05:00Z')
  await leave('Pat After', ctx.clock.now())
  assert.deepEqual((await visitorLines(ctx, rollCall.id))[1], ['Pat After', null, 'unaccounted'])
  assert.equal((await auditedAs(ctx, 'roll-call.signed-out-during')).length, 2, 'Vic and Ada only')
})

test("a visitor's sign-out dated after the alarm that commits before the roll call reads the list (it waited for it): on the list, signed out during the alarm, still not accounted for", async (t) => {
  const ctx = await buildTestApp(t)
  const { mo, visitorId, arrive, leave } = await zoesVisitors(ctx)
  for (const name of ['Ken Kiosk', 'Rex Reception', 'Val Before', 'Viv Stays']) await arrive(name)
  // The marshal taps "start" at 09:30:00.000. Val left at 09:29. Ken's sign-out at the kiosk and
  // reception's of Rex, a few milliseconds after the tap, are already being written: the start
  // waits for them (waitForSignInsInFlight), then reads the list.
  const alarm = at('09:30')
  ctx.clock.set('2026-11-24T09:30:00Z')
  await leave('Val Before', alarm - 60_000)
  await leave('Ken Kiosk', alarm + 5)
  await leave('Rex Reception', alarm + 7, { via: 'reception', kiosk: null, personId: mo.id, context })
  const rollCall = await marshalStarts(ctx, mo.id)
  assert.deepEqual(
    await visitorLines(ctx, rollCall.id),
    [
      ['Ken Kiosk', 'Signed out at 09:30, during the alarm', 'unaccounted'],
      ['Rex Reception', 'Signed out at 09:30, during the alarm', 'unaccounted'],
      ['Viv Stays', null, 'unaccounted'],
    ],
    'leaving the kiosk is no proof of reaching the assembly point; Val had gone before the alarm',
  )
  assert.equal((await rollCallCounts(ctx, rollCall.id)).unaccounted, 3)
  assert.deepEqual(
    (await auditedAs(ctx, 'roll-call.signed-out-during')).map((a) => [
      a.rollCallId,
      a.visitorId,
      a.signedOutAt,
    ]),
    [
      [rollCall.id, visitorId['Ken Kiosk'], alarm + 5],
      [rollCall.id, visitorId['Rex Reception'], alarm + 7],
    ],
  )
})
