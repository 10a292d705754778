import assert from 'node:assert/strict'
import { test } from 'node:test'
import { insertContact } from '../../identity/contact.repository.js'
import { buildTestApp } from '../../testing/build-test-app.js'
import { deskReceptionist, personWithRole, tapSignIn } from '../../testing/reception.js'

test('reception signs a person out and back in from the board: CSRF, role, audited as both', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const desk = await deskReceptionist(ctx)
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Brown' })
  const staff = await personWithRole(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Staff' })
  await tapSignIn(bob.browser)

  const board = await desk.browser.get('/reception')
  assert.match(board.body, new RegExp(`action="/reception/people/${bob.id}/sign-out"`))
  const forged = await desk.browser.post(`/reception/people/${bob.id}/sign-out`, {}, false)
  assert.equal(forged.statusCode, 403, 'no CSRF token, no change')
  await staff.browser.get('/')
  const notAllowed = await staff.browser.post(`/reception/people/${bob.id}/sign-out`)
  assert.equal(notAllowed.statusCode, 403, 'staff cannot sign others out')
  const open = () =>
    db
      .selectFrom('visit')
      .select('id')
      .where('person_id', '=', bob.id)
      .where('signed_out_at', 'is', null)
      .execute()
  assert.equal((await open()).length, 1)

  await desk.browser.get('/reception')
  const out = await desk.browser.post(`/reception/people/${bob.id}/sign-out`)
  assert.equal(out.statusCode, 303)
  assert.match((await desk.browser.follow(out)).body, /Bob Brown is now signed out\./)
  assert.equal((await open()).length, 0)
  const again = await desk.browser.post(`/reception/people/${bob.id}/sign-out`)
  assert.match((await desk.browser.follow(again)).body, /Nothing changed: Bob Brown was already signed out\./)

  const back = await desk.browser.post(`/reception/people/${bob.id}/sign-in`)
  assert.match((await desk.browser.follow(back)).body, /Bob Brown is now signed in\./)
  assert.equal((await open()).length, 1)
  const unknown = await desk.browser.post('/reception/people/999999/sign-in')
  assert.equal(unknown.statusCode, 404)

  const audit = await db
    .selectFrom('audit_event')
    .select(['action', 'person_id', 'detail'])
    .where('action', 'in', ['reception.signed-out-person', 'reception.signed-in-person', 'visit.signed-out'])
    .orderBy('id')
    .execute()
  assert.deepEqual(
    audit.map((a) => [a.action, a.person_id]),
    [
      ['visit.signed-out', bob.id],
      ['reception.signed-out-person', desk.id],
      ['reception.signed-in-person', desk.id],
    ],
  )
  assert.match(audit[0]!.detail, /"via":"reception"/)
})

test('marshals see phone numbers to call on the board and the roll call (audited); same names are told apart', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const desk = await deskReceptionist(ctx)
  const one = await personWithRole(ctx, 'sam.one@example.org', { firstName: 'Sam', lastName: 'Lee' })
  const two = await personWithRole(ctx, 'sam.two@example.org', { firstName: 'Sam', lastName: 'Lee' })
  await insertContact(db, { personId: one.id, kind: 'phone', value: '+447400123456', at: ctx.clock.now() })
  await tapSignIn(one.browser)
  await tapSignIn(two.browser)

  const board = await desk.browser.get('/reception')
  assert.match(board.body, /href="tel:\+447400123456">Call \+44 7400 123456/)
  assert.match(board.body, /Sam Lee<\/span> <span class="tell-apart">\(phone …3456\)/)
  assert.match(board.body, /Sam Lee<\/span> <span class="tell-apart">\(s…@example\.org\)/)
  // A live refresh is the same page kept fresh: not audited again.
  await desk.browser.request({ method: 'GET', url: '/reception', headers: { 'x-live-refresh': '1' } })

  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill' })
  const rollCall = await desk.browser.get(String(started.headers.location))
  assert.match(rollCall.body, /href="tel:\+447400123456"/)
  assert.match(rollCall.body, /\(phone …3456\)/)
  const found = await desk.browser.get(`${String(started.headers.location)}?q=sam`)
  assert.equal([...found.body.matchAll(/<span class="name">Sam Lee/g)].length, 2, 'search by name')
  const none = await desk.browser.get(`${String(started.headers.location)}?q=zed`)
  assert.doesNotMatch(none.body, /<span class="name">Sam Lee/)

  const shown = await db
    .selectFrom('audit_event')
    .select(['person_id', 'detail'])
    .where('action', '=', 'contacts.shown')
    .orderBy('id')
    .execute()
  assert.deepEqual(
    shown.map((s) => [s.person_id, JSON.parse(s.detail).page]),
    [
      [desk.id, 'board'],
      [desk.id, 'roll-call'],
      [desk.id, 'roll-call'],
      [desk.id, 'roll-call'],
    ],
    'each page opened (the two searches too), not the live refresh',
  )
  // Staff see no one else's number anywhere.
  const home = await one.browser.get('/')
  assert.doesNotMatch(home.body, /7400123456/)
})
