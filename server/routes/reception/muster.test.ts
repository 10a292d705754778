import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { LiveChange } from '../../reception/live-events.js'
import { buildTestApp, TestBrowser } from '../../testing/build-test-app.js'
import { personWithRole, tapSignIn, twoMarshals } from '../../testing/reception.js'

test('the assembly-point poster: reception prints a QR code of the check-in page, named for the point', async (t) => {
  const ctx = await buildTestApp(t)
  const { anna } = await twoMarshals(ctx)
  const staff = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  assert.equal((await staff.browser.get('/reception/muster')).statusCode, 403)
  const poster = await anna.browser.get('/reception/muster?point=Car%20park%20B')
  assert.equal(poster.statusCode, 200)
  assert.match(poster.body, /<h1>Fire assembly point: Car park B<\/h1>/)
  assert.match(poster.body, /src="data:image\/svg\+xml;base64,/)
  assert.ok(poster.body.includes(`${ctx.config.PUBLIC_URL}/muster?point=Car+park+B`))
  const plain = await anna.browser.get('/reception/muster')
  assert.ok(plain.body.includes(`<p class="poster-link">${ctx.config.PUBLIC_URL}/muster</p>`))
  assert.match((await anna.browser.get('/reception/roll-calls')).body, /href="\/reception\/muster"/)
  assert.equal((await anna.browser.get(`/reception/muster?point=${'x'.repeat(61)}`)).statusCode, 400)
})

test('scanning the poster during a roll call marks the person safe on every marshal’s list at once, audited', async (t) => {
  const ctx = await buildTestApp(t)
  const { db, live } = ctx.app.ctx
  const { anna } = await twoMarshals(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  // Bob never tapped in: he is not on the list, but if he checks in he must show up.
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Stone' })
  await tapSignIn(amy.browser)

  // Not signed in on this phone: the register asks who they are first, then comes back.
  const stranger = new TestBrowser(ctx.app)
  const away = await stranger.get('/muster?point=Car%20park%20B')
  assert.equal(away.statusCode, 303)
  assert.equal(away.headers.location, '/login')

  // No roll call: nothing is recorded.
  assert.match((await amy.browser.get('/muster')).body, /No roll call is running/)
  // A page left open from a roll call since ended (any page's token will do here).
  await amy.browser.get('/')
  const idle = await amy.browser.post('/muster', { point: '' })
  assert.match((await amy.browser.follow(idle)).body, /No roll call is running now, so nothing was recorded/)
  assert.equal((await db.selectFrom('roll_call_mark').selectAll().execute()).length, 0)

  await anna.browser.get('/reception')
  const started = await anna.browser.post('/reception/roll-calls', { kind: 'drill' })
  const url = String(started.headers.location)
  const rollCallId = Number(url.split('/').at(-1))
  // A marshal marked Amy missing before she reached the assembly point.
  await anna.browser.get(url)
  await anna.browser.post(`${url}/marks`, { person: String(amy.id), status: 'missing' })
  ctx.clock.advance(60_000)

  const changes: LiveChange[] = []
  live.on('change', (c: LiveChange) => changes.push(c))
  const page = await amy.browser.get('/muster?point=Car%20park%20B')
  assert.match(page.body, /<h1>Fire drill: Car park B<\/h1>/)
  assert.match(page.body, /A marshal has you down as <strong>missing<\/strong>/)
  const checkIn = await amy.browser.post('/muster', { point: 'Car park B' })
  assert.equal(checkIn.headers.location, '/muster?point=Car+park+B')
  const after = (await amy.browser.follow(checkIn)).body
  assert.match(after, /you are marked safe/)
  assert.match(after, /You are marked safe<\/strong>/)
  assert.doesNotMatch(after, /I am safe<\/button>/)
  assert.deepEqual(changes, [{ topic: 'roll-call', id: rollCallId }], 'every marshal’s page hears of it')

  await bob.browser.get('/muster')
  await bob.browser.post('/muster', { point: '' })

  const marks = await db
    .selectFrom('roll_call_mark')
    .select(['person_id', 'status', 'via', 'marked_by'])
    .orderBy('person_id')
    .execute()
  assert.deepEqual(marks, [
    { person_id: amy.id, status: 'safe', via: 'self', marked_by: amy.id },
    { person_id: bob.id, status: 'safe', via: 'self', marked_by: bob.id },
  ])
  const audits = await db
    .selectFrom('audit_event')
    .select(['person_id', 'detail'])
    .where('action', '=', 'roll-call.muster-check-in')
    .orderBy('id')
    .execute()
  assert.deepEqual(
    audits.map((a) => [a.person_id, JSON.parse(a.detail)]),
    [
      [amy.id, { rollCallId, point: 'Car park B' }],
      [bob.id, { rollCallId, point: null }],
    ],
  )
  const list = (await anna.browser.get(url)).body
  assert.match(list, /<span class="count">1<\/span> safe/)
  assert.match(list, /Not on the list when it started \(1\)/)
  // The printed list says so on Bob's row, where the others have when they signed in.
  const printed = (await anna.browser.get(`${url}/print`)).body
  const bobRow = printed.slice(printed.indexOf('<td>Bob Stone</td>'))
  assert.match(bobRow.slice(0, bobRow.indexOf('</tr>')), /<td>not on the list when it started<\/td>/)
  const amyRow = printed.slice(printed.indexOf('<td>Amy Clark</td>'))
  assert.doesNotMatch(amyRow.slice(0, amyRow.indexOf('</tr>')), /not on the list when it started/)
  assert.match(list, new RegExp(`id="p-${amy.id}"[^]*?said so themselves`))

  // Without the page's token, nothing happens.
  const forged = await bob.browser.post('/muster', { point: '' }, false)
  assert.equal(forged.statusCode, 403)
})
