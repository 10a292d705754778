import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, type TestApp, type TestBrowser } from '../../testing/build-test-app.js'
import { kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { personWithRole, tapSignIn, twoMarshals } from '../../testing/reception.js'

const MINUTE = 60 * 1000

/** Posts a mark as the roll call page's script sends one saved on the phone (JSON, key, own time). */
function sendSaved(
  browser: TestBrowser,
  url: string,
  mark: { person: string; status: string; at: number; sentAt: number; key: string },
) {
  return browser.request({
    method: 'POST',
    url: `${url}/marks`,
    payload: { ...mark, action: 'mark', _csrf: browser.csrfToken() },
    headers: { 'content-type': 'application/json', accept: 'application/json' },
  })
}

/** A roll call with Amy and Bob on it, a visitor, and two marshals on its page. */
async function rollCallWithMarshals(ctx: TestApp) {
  const { anna, ben } = await twoMarshals(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Stone' })
  await tapSignIn(amy.browser)
  await tapSignIn(bob.browser)
  await anna.browser.get('/reception/visitors/new')
  const visitor = await anna.browser.post('/reception/visitors', { name: 'Vera Guest', host: 'Amy Clark' })
  assert.equal(visitor.statusCode, 303, visitor.body)
  await anna.browser.get('/reception')
  const started = await anna.browser.post('/reception/roll-calls', { kind: 'drill' })
  const url = String(started.headers.location)
  await anna.browser.follow(started)
  await ben.browser.get(url)
  const visitorId = /id="v-(\d+)"/.exec(anna.browser.lastHtml)?.[1]
  assert.ok(visitorId, 'the visitor is on the roll call')
  return { anna, ben, amy, bob, url, visitorId }
}

test('a mark saved on a phone with no signal counts once, with the time it was made and its marshal', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { anna, amy, url } = await rollCallWithMarshals(ctx)
  // Anna marks Amy safe with no signal; five minutes later the phone sends it (and again, as the
  // first answer was lost on the way back).
  const madeAt = ctx.clock.now()
  ctx.clock.advance(5 * MINUTE)
  const mark = { person: String(amy.id), status: 'safe', at: madeAt, sentAt: madeAt + 5 * MINUTE, key: 'k1' }
  const first = await sendSaved(anna.browser, url, mark)
  assert.equal(first.statusCode, 200, first.body)
  assert.deepEqual([first.json().applied, first.json().duplicate], [true, false])
  assert.equal(first.json().counts.accounted, 1)
  const again = await sendSaved(anna.browser, url, { ...mark, sentAt: madeAt + 6 * MINUTE })
  assert.equal(again.statusCode, 200, again.body)
  assert.deepEqual([again.json().applied, again.json().duplicate], [false, true])

  const rows = await db.selectFrom('roll_call_mark').selectAll().execute()
  assert.equal(rows.length, 1)
  assert.equal(Number(rows[0]!.marked_at), madeAt, 'the time the mark was made, not when it arrived')
  assert.equal(rows[0]!.marked_by, anna.id)
  const audits = await db
    .selectFrom('audit_event')
    .select(['detail', 'at'])
    .where('action', '=', 'roll-call.marked')
    .execute()
  assert.equal(audits.length, 1, 'audited once')
  assert.deepEqual(JSON.parse(audits[0]!.detail), {
    rollCallId: rows[0]!.roll_call_id,
    subjectId: amy.id,
    status: 'safe',
    markedAt: madeAt,
    offline: true,
  })
  assert.equal(Number(audits[0]!.at), madeAt + 5 * MINUTE, 'the audit says when it arrived')
  assert.match((await anna.browser.get(url)).body, /by Anna Marshal at/)
})

test('a phone clock that is off: the mark is dated by its age, not by the phone clock', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { anna, amy, url } = await rollCallWithMarshals(ctx)
  ctx.clock.advance(3 * MINUTE)
  const phoneClock = ctx.clock.now() + 60 * MINUTE
  // Made two minutes ago by a phone an hour fast.
  const r = await sendSaved(anna.browser, url, {
    person: String(amy.id),
    status: 'safe',
    at: phoneClock - 2 * MINUTE,
    sentAt: phoneClock,
    key: 'skew',
  })
  assert.equal(r.statusCode, 200, r.body)
  const row = await db.selectFrom('roll_call_mark').selectAll().executeTakeFirstOrThrow()
  assert.equal(Number(row.marked_at), ctx.clock.now() - 2 * MINUTE)
})

test('marks merge by the time they were made: a late-arriving older mark never overwrites a newer one', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { anna, ben, amy, url, visitorId } = await rollCallWithMarshals(ctx)
  // Anna, offline, marks Amy and the visitor missing at 0:01; Ben, online, marks both safe at 0:02.
  ctx.clock.advance(MINUTE)
  const annaAt = ctx.clock.now()
  ctx.clock.advance(MINUTE)
  assert.equal(
    (await ben.browser.post(`${url}/marks`, { person: String(amy.id), status: 'safe' })).statusCode,
    303,
  )
  await ben.browser.get(url)
  assert.equal(
    (await ben.browser.post(`${url}/marks`, { person: `v${visitorId}`, status: 'safe' })).statusCode,
    303,
  )
  ctx.clock.advance(MINUTE)
  const sentAt = annaAt + 2 * MINUTE
  for (const [person, key] of [
    [String(amy.id), 'a1'],
    [`v${visitorId}`, 'a2'],
  ] as const) {
    const r = await sendSaved(anna.browser, url, { person, status: 'missing', at: annaAt, sentAt, key })
    assert.equal(r.statusCode, 200, r.body)
    assert.deepEqual([r.json().applied, r.json().duplicate], [false, false], 'overtaken')
  }
  const mark = await db.selectFrom('roll_call_mark').selectAll().executeTakeFirstOrThrow()
  assert.deepEqual([mark.status, mark.marked_by], ['safe', ben.id])
  const visitorMark = await db.selectFrom('roll_call_visitor').selectAll().executeTakeFirstOrThrow()
  assert.deepEqual([visitorMark.status, visitorMark.marked_by], ['safe', ben.id])
  // Both marks of each are in the audit trail; the overtaken ones say so.
  const audits = await db
    .selectFrom('audit_event')
    .select(['person_id', 'detail'])
    .where('action', 'in', ['roll-call.marked', 'roll-call.visitor-marked'])
    .orderBy('id')
    .execute()
  assert.deepEqual(
    audits.map((a) => [a.person_id, JSON.parse(a.detail).status, JSON.parse(a.detail).overtaken ?? false]),
    [
      [ben.id, 'safe', false],
      [ben.id, 'safe', false],
      [anna.id, 'missing', true],
      [anna.id, 'missing', true],
    ],
  )
  // An offline mark made after Ben's does win.
  const later = await sendSaved(anna.browser, url, {
    person: String(amy.id),
    status: 'missing',
    at: ctx.clock.now(),
    sentAt: ctx.clock.now(),
    key: 'a3',
  })
  assert.equal(later.json().applied, true)
  assert.equal(
    (await db.selectFrom('roll_call_mark').select('status').executeTakeFirstOrThrow()).status,
    'missing',
  )
})

test('a mark made before the roll call ended still counts when it arrives after; one made after does not', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const { anna, ben, amy, bob, url } = await rollCallWithMarshals(ctx)
  ctx.clock.advance(MINUTE)
  const before = ctx.clock.now()
  ctx.clock.advance(MINUTE)
  assert.equal((await ben.browser.post(`${url}/end`)).statusCode, 303)
  ctx.clock.advance(MINUTE)
  const late = await sendSaved(anna.browser, url, {
    person: String(amy.id),
    status: 'safe',
    at: before,
    sentAt: before + 2 * MINUTE,
    key: 'late',
  })
  assert.equal(late.statusCode, 200, late.body)
  const after = await sendSaved(anna.browser, url, {
    person: String(bob.id),
    status: 'safe',
    at: ctx.clock.now(),
    sentAt: ctx.clock.now(),
    key: 'after',
  })
  assert.equal(after.statusCode, 422, 'refused for good, so the phone stops resending it')
  assert.match(after.json().error, /had ended before that mark was made/)
  const marks = await db.selectFrom('roll_call_mark').select(['person_id', 'marked_at']).execute()
  assert.deepEqual(marks, [{ person_id: amy.id, marked_at: before }])
  // A live mark (no key) after the end is refused as before.
  await anna.browser.get('/reception')
  const live = await anna.browser.post(`${url}/marks`, { person: String(bob.id), status: 'safe' })
  assert.equal(live.statusCode, 303)
  assert.match((await anna.browser.follow(live)).body, /This roll call has ended/)
})

test('bad saved marks are refused with a message, never a 500', async (t) => {
  const ctx = await buildTestApp(t)
  const { anna, amy, url } = await rollCallWithMarshals(ctx)
  const now = ctx.clock.now()
  const base = { person: String(amy.id), status: 'safe', at: now, sentAt: now, key: 'x' }
  const future = await sendSaved(anna.browser, url, { ...base, at: now + 60 * MINUTE, key: 'f' })
  assert.equal(future.statusCode, 422)
  assert.match(future.json().error, /future/)
  const old = await sendSaved(anna.browser, url, { ...base, at: now - 13 * 60 * MINUTE, key: 'o' })
  assert.equal(old.statusCode, 422)
  const noKey = await anna.browser.request({
    method: 'POST',
    url: `${url}/marks`,
    payload: { person: String(amy.id), status: 'safe', at: now, _csrf: anna.browser.csrfToken() },
    headers: { 'content-type': 'application/json', accept: 'application/json' },
  })
  assert.equal(noKey.statusCode, 400, 'a time comes with a key')
  const stranger = await sendSaved(anna.browser, url, { ...base, person: '999', key: 's' })
  assert.equal(stranger.statusCode, 404)
  // The refused key was not used up: the same key with a good mark still counts.
  const good = await sendSaved(anna.browser, url, { ...base, key: 's' })
  assert.equal(good.json().applied, true)
})

test('sign-ins saved offline before the alarm and sent after the roll call started are on it, as is anyone signing in while it runs', async (t) => {
  const ctx = await buildTestApp(t)
  const { anna } = await twoMarshals(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  const carl = await personWithRole(ctx, 'carl@example.org', { firstName: 'Carl', lastName: 'Late' })
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  await amy.browser.get('/')
  // 09:58: Amy taps in with no signal on her phone; the kiosk, its network down, signs Olly in.
  const tappedAt = ctx.clock.now()
  ctx.clock.advance(2 * MINUTE)
  await anna.browser.get('/reception')
  const started = await anna.browser.post('/reception/roll-calls', { kind: 'drill' })
  const url = String(started.headers.location)
  assert.match((await anna.browser.follow(started)).body, /<span class="count">0<\/span> not accounted for/)

  // The phone and the kiosk find the network again while the roll call runs.
  ctx.clock.advance(3 * MINUTE)
  const tap = await amy.browser.request({
    method: 'POST',
    url: '/taps',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({
      action: 'sign-in',
      at: tappedAt,
      sentAt: tappedAt + 5 * MINUTE,
      key: 'amy-1',
      _csrf: amy.browser.csrfToken(),
    }),
  })
  assert.equal(tap.json().applied, true, tap.body)
  const olly = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Olly Offline',
    hostText: 'Amy Clark',
    key: 'olly-1',
    at: tappedAt,
    sentAt: tappedAt + 5 * MINUTE,
  })
  assert.equal(olly.statusCode, 201, olly.body)
  // Carl signs in at the door while the roll call runs: he is inside too.
  await tapSignIn(carl.browser)

  const page = await anna.browser.get(url)
  assert.match(page.body, /<span class="count">3<\/span> not accounted for/)
  const listed = page.body.slice(page.body.indexOf('<h2 id="in">'), page.body.indexOf('<h2 id="visitors">'))
  assert.match(listed, /In \(2\)[\s\S]*Amy Clark[\s\S]*Carl Late/)
  assert.match(page.body.slice(page.body.indexOf('<h2 id="visitors">')), /Visitors \(1\)[\s\S]*Olly Offline/)
  // Marshals can mark them like everyone else.
  const marked = await anna.browser.post(`${url}/marks`, { person: String(amy.id), status: 'safe' })
  assert.equal(marked.statusCode, 303)
  assert.match((await anna.browser.follow(marked)).body, /<span class="count">1<\/span> safe/)
})
