import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../testing/build-test-app.js'
import { makePerson } from '../../testing/factories.js'
import { type KioskTablet, kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { deskReceptionist } from '../../testing/reception.js'

test('a refused saved sign-in whose notice a person removed at the kiosk shows on the board as removed there, and when, no longer as an alarm; one still on the kiosk stays the alarm', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: 'zoe.host@example.org' })
  const admin = await kioskAdmin(ctx)
  const north = await pairedKiosk(ctx, admin, 'North door')
  const side = await pairedKiosk(ctx, admin, 'Side door')
  const northId = (
    await db.selectFrom('kiosk').select('id').where('name', '=', 'North door').executeTakeFirstOrThrow()
  ).id
  const desk = (await deskReceptionist(ctx)).browser

  // 09:05: the North door's tablet, back on the network, sends two sign-ins saved 14 hours ago (19:05
  // and 19:10 yesterday): too old, refused.
  ctx.clock.set('2026-11-24T09:05:00Z') // Europe/London: UTC in November.
  const refuse = async (name: string, key: string, madeAt: string) => {
    const sent = await north.api('POST', '/kiosk/api/visitors', {
      name,
      hostText: 'zoe host',
      action: 'visitor-sign-in',
      key,
      at: Date.parse(madeAt),
      sentAt: ctx.clock.now(),
    })
    assert.equal(sent.statusCode, 422, sent.body)
  }
  await refuse('Otto Overnight', '6a1f-otto', '2026-11-23T19:05:00Z')
  await refuse('Rita Refused', '7b2e-rita', '2026-11-23T19:10:00Z')
  const dismiss = async (tablet: KioskTablet, key: string, madeAt: string, extra = {}) => {
    const sent = await tablet.api('POST', '/kiosk/api/saved-sign-ins/dismiss', {
      key,
      at: Date.parse(madeAt),
      sentAt: ctx.clock.now(),
      ...extra,
    })
    assert.equal(sent.statusCode, 200, sent.body)
  }
  const board = async () => {
    const body = (await desk.get('/reception')).body
    const block = (cls: string) => {
      const start = body.indexOf(`class="flash ${cls}`)
      return start < 0 ? '' : body.slice(start, body.indexOf('</div>', start))
    }
    return { alarm: block('flash-error saved-sign-ins-refused'), removed: block('saved-sign-ins-removed') }
  }

  let shown = await board()
  assert.match(shown.alarm, /role="alert"/)
  assert.match(shown.alarm, /2 visitors who were told they are signed in are not on the fire list/)
  assert.match(shown.alarm, /19:05[\s\S]*19:10/)
  assert.equal(shown.removed, '', 'nothing removed yet')

  // 10:12: a person at the North door removes Otto's notice ("Reception knows").
  ctx.clock.set('2026-11-24T10:12:00Z')
  await dismiss(north, '6a1f-otto', '2026-11-23T19:05:00Z')
  // Another kiosk sending Rita's key, not saved there, removes nothing of the North door's.
  await dismiss(side, '7b2e-rita', '2026-11-23T19:10:00Z')
  shown = await board()
  assert.match(shown.alarm, /A visitor who was told they are signed in is not on the fire list/)
  assert.match(
    shown.alarm,
    /North door: signed in there at <time[^>]*>Mon 23 Nov 2026, 19:10/,
    'Rita’s stays the alarm',
  )
  assert.doesNotMatch(shown.alarm, /19:05/, 'Otto’s is no longer an alarm')
  assert.doesNotMatch(shown.removed, /role="alert"/)
  assert.match(shown.removed, /still not on the fire list/, 'it does not say they were signed in')
  assert.match(
    shown.removed,
    /Notice removed at the kiosk at 10:12<\/strong> · North door: signed in there at <time[^>]*>Mon 23 Nov 2026, 19:05<\/time>, refused at 09:05 — [^<]*more than 12 hours/,
  )
  assert.doesNotMatch(shown.removed, /19:10/)

  // 10:20: the tablet, paired as the Side door since, removes Rita's, which it saved as the North door.
  ctx.clock.set('2026-11-24T10:20:00Z')
  await dismiss(side, '7b2e-rita', '2026-11-23T19:10:00Z', { savedUnder: [northId] })
  shown = await board()
  assert.equal(shown.alarm, '', 'nothing left unseen to')
  assert.match(
    shown.removed,
    /removed at the kiosk at 10:12<\/strong> · North door: [^<]*<time[^>]*>[^<]*19:05[\s\S]*removed at the kiosk at 10:20 \(Side door\)<\/strong> · North door: [^<]*<time[^>]*>[^<]*19:10/,
  )

  // A day after the refusals the board lists neither (the audit trail keeps them).
  ctx.clock.set('2026-11-25T09:06:00Z')
  assert.deepEqual(await board(), { alarm: '', removed: '' })
})
