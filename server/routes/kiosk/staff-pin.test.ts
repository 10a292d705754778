import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../testing/build-test-app.js'
import { kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { personWithRole } from '../../testing/reception.js'

test('staff without their phone: PIN set on the profile (scrypt), name search lists only people with a PIN, the right PIN signs in then out at the door', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const alice = await personWithRole(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Ångström' })
  await personWithRole(ctx, 'alina@example.org', { firstName: 'Alina', lastName: 'Nopin' })
  await alice.browser.get('/profile/pin')
  for (const [pin, confirm, message] of [
    ['12', '12', /4 to 8 digits/],
    ['1234', '1234', /too easy/],
    ['4826', '4862', /not the same/],
  ] as const) {
    const refused = await alice.browser.post('/profile/pin', { pin, confirm })
    assert.equal(refused.statusCode, 422)
    assert.match(refused.body, message)
  }
  assert.equal((await alice.browser.post('/profile/pin', { pin: '4826', confirm: '4826' })).statusCode, 303)
  const stored = await db.selectFrom('staff_pin').selectAll().executeTakeFirstOrThrow()
  assert.match(stored.pin_hash, /^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/)
  assert.doesNotMatch(stored.pin_hash, /4826/)

  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const found = (await tablet.api('GET', '/kiosk/api/staff?q=ali')).json()
  assert.deepEqual(found.matches, [{ id: alice.id, name: 'Alice Ångström' }], 'Alina has no PIN')
  const signedIn = await tablet.api('POST', `/kiosk/api/staff/${alice.id}/pin`, { pin: '4826' })
  assert.equal(signedIn.statusCode, 200)
  assert.equal(signedIn.json().state, 'in')
  ctx.clock.advance(8 * 60 * 60_000)
  const signedOut = await tablet.api('POST', `/kiosk/api/staff/${alice.id}/pin`, { pin: '4826' })
  assert.equal(signedOut.json().state, 'out')
  const door = await db.selectFrom('visit_at_door').selectAll().orderBy('action').execute()
  assert.deepEqual(
    door.map((d) => [d.action, d.method]),
    [
      ['signed-in', 'pin'],
      ['signed-out', 'pin'],
    ],
  )
  const audit = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'visit.signed-in')
    .executeTakeFirstOrThrow()
  assert.equal(JSON.parse(audit.detail).via, 'kiosk-pin:Main entrance')
})

test('five wrong PINs lock it for 15 minutes (even the right one is refused), each try audited with the kiosk', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Brown' })
  await bob.browser.get('/profile/pin')
  await bob.browser.post('/profile/pin', { pin: '7391', confirm: '7391' })
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'Side door')
  for (let i = 1; i <= 4; i++) {
    const wrong = await tablet.api('POST', `/kiosk/api/staff/${bob.id}/pin`, { pin: '0000' })
    assert.equal(wrong.statusCode, 422)
    assert.match(wrong.json().error, /not right/)
  }
  const fifth = await tablet.api('POST', `/kiosk/api/staff/${bob.id}/pin`, { pin: 'junk!' })
  assert.equal(fifth.statusCode, 429)
  assert.match(fifth.json().error, /locked for now\. Try again in 15 minutes/)
  const right = await tablet.api('POST', `/kiosk/api/staff/${bob.id}/pin`, { pin: '7391' })
  assert.equal(right.statusCode, 429, 'locked: the right PIN does not work either')
  assert.equal(await db.selectFrom('visit').select('id').executeTakeFirst(), undefined)
  ctx.clock.advance(15 * 60_000 + 1)
  const later = await tablet.api('POST', `/kiosk/api/staff/${bob.id}/pin`, { pin: '7391' })
  assert.equal(later.statusCode, 200)
  assert.equal(later.json().state, 'in')
  const audit = await db
    .selectFrom('audit_event')
    .select(['action', 'detail'])
    .where('action', 'like', 'pin.%')
    .orderBy('id')
    .execute()
  assert.deepEqual(
    audit.map((a) => a.action),
    ['pin.set', 'pin.failed', 'pin.failed', 'pin.failed', 'pin.failed', 'pin.locked', 'pin.refused-locked'],
  )
  for (const a of audit.slice(1)) assert.equal(JSON.parse(a.detail).kiosk, 'Side door')
  // Someone without a PIN, or a made-up id: the same refusal, never a 500.
  assert.equal((await tablet.api('POST', '/kiosk/api/staff/999999/pin', { pin: '1234' })).statusCode, 422)
  assert.equal((await tablet.api('POST', '/kiosk/api/staff/abc/pin', { pin: '1234' })).statusCode, 400)
})

test('guesses sent all at once get no more tries than guesses sent one by one: five, then locked', async (t) => {
  const ctx = await buildTestApp(t)
  const carol = await personWithRole(ctx, 'carol@example.org', { firstName: 'Carol', lastName: 'Cole' })
  await carol.browser.get('/profile/pin')
  await carol.browser.post('/profile/pin', { pin: '7391', confirm: '7391' })
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx), 'Side door')
  // Twenty wrong guesses in one burst (the rate limit allows 30 a minute), then the right one.
  const burst = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      tablet.api('POST', `/kiosk/api/staff/${carol.id}/pin`, { pin: String(1000 + i) }),
    ),
  )
  const checked = burst.filter((a) => a.statusCode === 422).length
  assert.ok(checked <= 4, `${checked} wrong guesses were checked and let through; four are, the fifth locks`)
  const right = await tablet.api('POST', `/kiosk/api/staff/${carol.id}/pin`, { pin: '7391' })
  assert.equal(right.statusCode, 429, 'locked: the right PIN does not work either')
  assert.equal(await ctx.app.ctx.db.selectFrom('visit').select('id').executeTakeFirst(), undefined)
})

test('a PIN sent twice in a moment (a double Enter, a resend) does not undo itself: the second changes nothing and says why', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const alice = await personWithRole(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Ångström' })
  await alice.browser.get('/profile/pin')
  assert.equal((await alice.browser.post('/profile/pin', { pin: '4826', confirm: '4826' })).statusCode, 303)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const pin = () => tablet.api('POST', `/kiosk/api/staff/${alice.id}/pin`, { pin: '4826' })
  const open = () =>
    db
      .selectFrom('visit')
      .selectAll()
      .where('person_id', '=', alice.id)
      .where('signed_out_at', 'is', null)
      .execute()

  assert.equal((await pin()).json().state, 'in')
  ctx.clock.advance(2_000)
  const repeated = await pin()
  assert.equal(repeated.statusCode, 200)
  assert.deepEqual(
    { changed: repeated.json().changed, state: repeated.json().state },
    { changed: false, state: 'in' },
  )
  assert.match(repeated.json().message, /signed in at 09:05, a moment ago/)
  assert.equal((await open()).length, 1, 'still in: on the fire list')

  // Meant: after the moment has passed, the PIN signs out.
  ctx.clock.advance(10_000)
  assert.equal((await pin()).json().state, 'out')
  assert.equal((await open()).length, 0)
  // …and a repeat of that sign-out does not sign them back in.
  ctx.clock.advance(1_000)
  const again = await pin()
  assert.deepEqual(
    { changed: again.json().changed, state: again.json().state },
    { changed: false, state: 'out' },
  )
  assert.match(again.json().message, /signed out at 09:05, a moment ago/)
  assert.equal((await open()).length, 0, 'still out: not on the fire list')
})
