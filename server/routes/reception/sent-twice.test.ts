import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, type TestApp } from '../../testing/build-test-app.js'
import { makePerson } from '../../testing/factories.js'
import { deliveriesFinished, deskReceptionist, personWithRole, tapSignIn } from '../../testing/reception.js'

const visitorsInside = (ctx: TestApp) =>
  ctx.app.ctx.db
    .selectFrom('visitor')
    .select(['id', 'name'])
    .where('signed_in_at', 'is not', null)
    .where('signed_out_at', 'is', null)
    .execute()

test('the walk-in form sent twice (a double click, a resend) signs the visitor in once', async (t) => {
  const ctx = await buildTestApp(t)
  await makePerson(ctx.app.ctx.db, { firstName: 'Hana', lastName: 'Host', email: 'hana@example.org' })
  const desk = await deskReceptionist(ctx)
  const walkIn = { name: 'Vera Guest', company: 'Acme', host: 'Hana Host' }

  // The browser resends after the first answer (a reload of the POST, a second Enter).
  await desk.browser.get('/reception/visitors/new')
  const first = await desk.browser.submit('/reception/visitors', walkIn)
  assert.equal(first.statusCode, 303)
  const again = await desk.browser.submit('/reception/visitors', walkIn)
  assert.equal(again.statusCode, 303, 'the resend is answered as the first was')
  assert.equal(again.headers.location, first.headers.location)
  assert.deepEqual(
    (await visitorsInside(ctx)).map((v) => v.name),
    ['Vera Guest'],
    'one Vera on the fire list, not two',
  )

  // A double click: both copies on their way at once.
  await desk.browser.get('/reception/visitors/new')
  const both = await Promise.all([
    desk.browser.submit('/reception/visitors', { ...walkIn, name: 'Walt Twice' }),
    desk.browser.submit('/reception/visitors', { ...walkIn, name: 'Walt Twice' }),
  ])
  assert.deepEqual(
    both.map((r) => r.statusCode),
    [303, 303],
  )
  assert.deepEqual(
    (await visitorsInside(ctx)).map((v) => v.name).sort(),
    ['Vera Guest', 'Walt Twice'],
    'one Walt on the fire list, not two',
  )

  // The next visitor is a new form, a new sign-in: another Vera (a namesake) is signed in too.
  await desk.browser.get('/reception/visitors/new')
  assert.equal((await desk.browser.submit('/reception/visitors', walkIn)).statusCode, 303)
  assert.equal((await visitorsInside(ctx)).filter((v) => v.name === 'Vera Guest').length, 2)
})

test('a walk-in form corrected after an error signs the visitor in (the failed send used nothing up)', async (t) => {
  const ctx = await buildTestApp(t)
  await makePerson(ctx.app.ctx.db, { firstName: 'Hana', lastName: 'Host', email: 'hana@example.org' })
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/visitors/new')
  const wrong = await desk.browser.submit('/reception/visitors', { name: 'Vera Guest', host: 'Nobody Known' })
  assert.equal(wrong.statusCode, 422)
  const right = await desk.browser.submit('/reception/visitors', { name: 'Vera Guest', host: 'Hana Host' })
  assert.equal(right.statusCode, 303)
  assert.deepEqual(
    (await visitorsInside(ctx)).map((v) => v.name),
    ['Vera Guest'],
  )
})

test('a broadcast form sent twice (a double click, a resend) sends the message once', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const amy = await personWithRole(ctx, '07400 123456', { firstName: 'Amy', lastName: 'Clark' })
  await tapSignIn(amy.browser)
  const desk = await deskReceptionist(ctx)
  const message = { template: 'free', audience: 'inside', message: 'Gas leak: leave by the front door.' }

  await desk.browser.get('/reception/broadcasts/new')
  const first = await desk.browser.submit('/reception/broadcasts', message)
  assert.equal(first.statusCode, 303)
  const again = await desk.browser.submit('/reception/broadcasts', message)
  assert.equal(again.headers.location, first.headers.location, 'the resend shows the first broadcast')

  await desk.browser.get('/reception/broadcasts/new')
  const both = await Promise.all([
    desk.browser.submit('/reception/broadcasts', { ...message, message: 'All clear.' }),
    desk.browser.submit('/reception/broadcasts', { ...message, message: 'All clear.' }),
  ])
  assert.deepEqual(
    both.map((r) => r.statusCode),
    [303, 303],
  )
  await deliveriesFinished(ctx)

  const broadcasts = await db.selectFrom('broadcast').select('message').orderBy('id').execute()
  assert.deepEqual(
    broadcasts.map((b) => b.message),
    ['Gas leak: leave by the front door.', 'All clear.'],
    'each message once',
  )
  const texts = ctx.outbox.filter(
    (l) => l.startsWith('message to +447400123456 ') && l.includes('(broadcast)'),
  )
  assert.equal(texts.length, 2, 'Amy gets two texts (one per message), not four')
})
