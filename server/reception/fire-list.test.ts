import assert from 'node:assert/strict'
import { test } from 'node:test'
import { autoClose } from '../../tasks/auto-close.task.js'
import { sendReminders } from '../../tasks/send-reminders.task.js'
import { autoCloseOpenVisits } from '../register/auto-close.js'
import { buildTestApp, type TestApp, type TestBrowser } from '../testing/build-test-app.js'
import { deskReceptionist, personWithRole, tapSignIn, tapSignOut } from '../testing/reception.js'
import { apiTokenFor, giveRole } from '../testing/roles.js'
import { autoCloseVisitors } from '../visitors/visitor.service.js'
import { fireList, fireListSettings } from './presence.service.js'
import { rollCallView, startRollCall } from './roll-call.service.js'

const fast = { REMINDER_MAX_PER_MINUTE: '6000' }

/** The two links of the reminder sent to a contact: "I've left" then "Still here". */
function reminderLinks(ctx: TestApp, to: string): { left: string; stillHere: string } {
  const line = ctx.outbox.find((l) => l.startsWith(`message to ${to} (reminder)`))
  assert.ok(line, `a reminder went to ${to}`)
  const [left, stillHere] = [...line.matchAll(/http:\/\/register\.test(\/r\/[\w-]+)/g)].map((m) => m[1]!)
  return { left: left!, stillHere: stillHere! }
}

const answer = (browser: TestBrowser, url: string, fields: Record<string, string> = {}) =>
  browser.request({
    method: 'POST',
    url,
    payload: new URLSearchParams(fields).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })

/** Names in a section of the board (between its list and the next heading). */
function namesIn(html: string, label: string): string[] {
  const start = html.indexOf(`aria-label="${label}"`)
  if (start < 0) return []
  const section = html.slice(start, html.indexOf('</ul>', start))
  return [...section.matchAll(/<span class="name">([^<]+)<\/span>/g)].map((m) => m[1]!)
}

/** A receptionist, and a member of staff signed in with visitors (signed in at the desk) for them. */
async function signInWithVisitors(
  ctx: TestApp,
  contact: string,
  name: { firstName: string; lastName: string },
  visitors: string[],
): Promise<{ desk: { browser: TestBrowser; id: number } }> {
  const desk = await personWithRole(
    ctx,
    'desk@example.org',
    { firstName: 'Rita', lastName: 'Desk' },
    'reception',
  )
  const staff = await personWithRole(ctx, contact, name)
  await tapSignIn(staff.browser)
  for (const visitor of visitors) {
    await desk.browser.get('/reception/visitors/new')
    const r = await desk.browser.post('/reception/visitors', {
      name: visitor,
      company: 'Acme',
      hostId: String(staff.id),
    })
    assert.equal(r.statusCode, 303)
  }
  return { desk }
}

test('a whole day: the reminded-silent are flagged at 19:30, "Still here" people are on the 00:30 roll call as unconfirmed, who signed out never appears; the drill report', async (t) => {
  const ctx = await buildTestApp(t, { env: fast })
  ctx.clock.set('2026-11-23T08:55:00Z') // Europe/London: UTC in November.
  const marshal = await personWithRole(ctx, 'marshal@example.org', { firstName: 'Mo', lastName: 'Marshal' })
  await giveRole(ctx, 'marshal@example.org', 'reception')
  const people: Record<string, { browser: TestBrowser; id: number }> = {}
  for (const name of ['Ann', 'Ben', 'Cat', 'Dan', 'Eve', 'Fay']) {
    people[name] = await personWithRole(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Test',
    })
    await tapSignIn(people[name]!.browser)
  }
  ctx.clock.set('2026-11-23T16:00:00Z')
  await tapSignOut(people.Fay!.browser)

  ctx.clock.set('2026-11-23T17:30:00Z')
  const sent = await sendReminders({ ...ctx.app.ctx, log: ctx.app.log })
  assert.deepEqual(sent.outcomes, { sent: 5 }, 'everyone still in is reminded; Fay left')
  const phone = people.Ann!.browser
  ctx.clock.set('2026-11-23T17:31:00Z')
  assert.equal((await answer(phone, reminderLinks(ctx, 'ann@example.org').stillHere)).statusCode, 200)
  assert.equal((await answer(phone, reminderLinks(ctx, 'eve@example.org').stillHere)).statusCode, 200)
  assert.equal(
    (await answer(phone, reminderLinks(ctx, 'ben@example.org').left, { time: '17:00' })).statusCode,
    200,
    'Ben left around 17:00, in one tap',
  )
  // Cat and Dan never answer.

  ctx.clock.set('2026-11-23T19:30:00Z')
  const board = await marshal.browser.get('/reception')
  assert.deepEqual(namesIn(board.body, 'In'), ['Ann Test', 'Eve Test'], '"Still here" two hours ago')
  assert.deepEqual(namesIn(board.body, 'Unconfirmed'), ['Cat Test', 'Dan Test'])
  assert.match(board.body, /Cat Test[\s\S]*?reminded 17:30, no answer/)
  const fireList = board.body.slice(0, board.body.indexOf('Left today'))
  assert.doesNotMatch(fireList, /Ben Test|Fay Test/, 'they signed out: greyed under "Left today" only')
  assert.deepEqual(namesIn(board.body, 'Left today'), ['Ben Test', 'Fay Test'])
  const token = await apiTokenFor(ctx, 'marshal@example.org')
  const api = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/presence',
    headers: { authorization: `Bearer ${token}` },
  })
  const listed = api.json().people as { firstName: string; group: string; reason: { text: string } | null }[]
  assert.deepEqual(
    listed.map((p) => [p.firstName, p.group, p.reason?.text ?? null]),
    [
      ['Ann', 'in', null],
      ['Cat', 'unconfirmed', 'reminded 17:30, no answer'],
      ['Dan', 'unconfirmed', 'reminded 17:30, no answer'],
      ['Eve', 'in', null],
    ],
    'the API says what the board says',
  )

  ctx.clock.set('2026-11-23T20:00:00Z')
  const later = await marshal.browser.get('/reception')
  assert.deepEqual(namesIn(later.body, 'In'), [], '"Still here" is older than FIRE_LIST_STILL_HERE_HOURS')
  assert.match(later.body, /Ann Test[\s\S]*?answered Still here at 17:31/)

  ctx.clock.set('2026-11-23T23:59:00Z')
  assert.deepEqual(await autoClose({ ...ctx.app.ctx, log: ctx.app.log }), { closed: 4 })

  // The alarm rings at 00:30: nobody who tapped in and never out has disappeared.
  ctx.clock.set('2026-11-24T00:30:00Z')
  const started = await marshal.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })
  assert.equal(started.statusCode, 303)
  const url = String(started.headers.location)
  const page = await marshal.browser.get(url)
  assert.equal(page.statusCode, 200)
  const unconfirmed = page.body.slice(
    page.body.indexOf('id="unconfirmed"'),
    page.body.indexOf('id="visitors"'),
  )
  const names = [...unconfirmed.matchAll(/<span class="name">([A-Za-z]+ Test)/g)].map((m) => m[1])
  assert.deepEqual(names, ['Ann Test', 'Cat Test', 'Dan Test', 'Eve Test'])
  assert.match(
    unconfirmed,
    /Ann Test[\s\S]*?said Still here at Mon 23 Nov 17:31, not seen leaving \(visit closed automatically at Mon 23 Nov 23:59\)/,
  )
  assert.match(
    unconfirmed,
    /Cat Test[\s\S]*?signed in Mon 23 Nov 08:55, not seen leaving \(visit closed automatically at Mon 23 Nov 23:59\)/,
  )
  assert.doesNotMatch(page.body, /Ben Test|Fay Test/, 'who signed out never appears')

  const csv = await marshal.browser.get(`${url}/report.csv`)
  const rows = csv.body.trim().split('\n').slice(1)
  assert.deepEqual(
    rows.map((r) => r.split(',').slice(0, 2).join(' ')).sort(),
    ['Ann Test', 'Cat Test', 'Dan Test', 'Eve Test'],
    'the CSV lists the same people',
  )
  assert.ok(
    rows.every((r) => r.includes(', not seen leaving (visit closed automatically at Mon 23 Nov 23:59)",')),
  )

  // The drill report: who was never accounted for, then how long it took, and how each doubt ended.
  const mark = async (name: string, time: string) => {
    ctx.clock.set(`2026-11-24T${time}:00Z`)
    await marshal.browser.get(url)
    const r = await marshal.browser.post(`${url}/marks`, { person: String(people[name]!.id), status: 'safe' })
    assert.equal(r.statusCode, 303)
  }
  await mark('Ann', '00:35')
  await mark('Eve', '00:40')
  await mark('Dan', '00:41')
  const midway = await marshal.browser.get(`${url}/report`)
  assert.match(midway.body, /no: 1 never accounted for/)
  assert.match(midway.body, /Never accounted for \(1\)[\s\S]*Cat Test/)
  await mark('Cat', '00:45')
  ctx.clock.set('2026-11-24T00:50:00Z')
  await marshal.browser.get(url)
  assert.equal((await marshal.browser.post(`${url}/end`)).statusCode, 303)
  const report = await marshal.browser.get(`${url}/report`)
  assert.equal(report.statusCode, 200)
  assert.match(report.body, /Everyone accounted for<\/dt><dd>after <strong>15 min 0 s<\/strong> \(00:45\)/)
  assert.match(report.body, /Marked by<\/dt><dd>Mo Marshal \(4\)/)
  assert.match(
    report.body,
    /<td>Ann Test<\/td><td>said Still here at Mon 23 Nov 17:31, not seen leaving \(visit closed automatically at Mon 23 Nov 23:59\)<\/td><td>safe, marked by Mo Marshal at 00:35<\/td>/,
  )
  assert.match(report.body, /class="print-table"/)
  const history = await marshal.browser.get('/reception/roll-calls')
  assert.match(history.body, new RegExp(`href="${url}/report">Evacuation report`))
})

test('a visitor still in at the auto-close stays on the fire list and the roll call, unconfirmed, as long as staff do', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T17:00:00Z') // Europe/London: UTC in November.
  const { db } = ctx.app.ctx
  const { desk } = await signInWithVisitors(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Late' }, [
    'Val Late',
    'Vic Left',
  ])
  const vic = await db
    .selectFrom('visitor')
    .select('id')
    .where('name', '=', 'Vic Left')
    .executeTakeFirstOrThrow()
  await desk.browser.get('/reception')
  assert.equal((await desk.browser.post(`/reception/visitors/${vic.id}/sign-out`)).statusCode, 303)

  ctx.clock.set('2026-11-23T23:59:00Z')
  assert.deepEqual(await autoClose({ ...ctx.app.ctx, log: ctx.app.log }), { closed: 2 })

  // The alarm rings at 00:30: nobody the auto-close closed unseen has disappeared, visitor or staff.
  ctx.clock.set('2026-11-24T00:30:00Z')
  const board = await desk.browser.get('/reception')
  assert.match(board.body, /<span class="count">2<\/span> people on the fire list/, 'Sam and Val')
  const visitors = board.body.slice(board.body.indexOf('id="visitors"'))
  assert.match(
    visitors.slice(0, visitors.indexOf('</ul>')),
    /Val Late[\s\S]*?unconfirmed[\s\S]*?signed in Mon 23 Nov 17:00, not seen leaving \(visit closed automatically at Mon 23 Nov 23:59\)/,
  )
  assert.doesNotMatch(board.body.slice(board.body.indexOf('data-live=')), /Vic Left/, 'signed out')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })
  const url = String(started.headers.location)
  const page = await desk.browser.get(url)
  assert.match(page.body, /<span class="count">2<\/span> not accounted for/)
  const onRollCall = page.body.slice(page.body.indexOf('<h2 id="visitors">'))
  assert.match(
    onRollCall,
    /Visitors \(1\)[\s\S]*Val Late[\s\S]*?unconfirmed[\s\S]*?signed in Mon 23 Nov 17:00, not seen leaving \(visit closed automatically at Mon 23 Nov 23:59\)/,
  )
  const csv = (await desk.browser.get(`${url}/report.csv`)).body
  assert.match(
    csv,
    /^Val Late,.*,no,"signed in Mon 23 Nov 17:00, not seen leaving \(visit closed automatically at Mon 23 Nov 23:59\)",yes,,no$/m,
    csv,
  )

  // After FIRE_LIST_AUTO_CLOSED_HOURS (12) the auto-closed visit leaves the list, as a member of staff's does.
  ctx.clock.set('2026-11-24T12:30:00Z')
  const noon = await desk.browser.get('/reception')
  assert.match(noon.body, /<span class="count">0<\/span> people on the fire list/)
})

test('a roll call whose clock was read just before the auto-close committed still lists everyone it closed', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T20:00:00Z') // Europe/London: UTC in November.
  const { db, config } = ctx.app.ctx
  const { desk } = await signInWithVisitors(ctx, 'nia@example.org', { firstName: 'Nia', lastName: 'Night' }, [
    'Val Night',
  ])

  // The marshal taps "start" at 23:59:00.000; the auto-close (on the worker, its clock a moment on)
  // closes both visits at 23:59:00.400 and commits while the start waits for writes in flight, so
  // the start reads the list after them, with its own earlier instant.
  const alarm = Date.parse('2026-11-23T23:59:00.000Z')
  const context = { ip: '-', userAgent: 'test' }
  const timeZone = config.TIME_ZONE
  await autoCloseOpenVisits(db, { now: alarm + 400, timeZone, context })
  await autoCloseVisitors(db, { now: alarm + 400, timeZone, context })
  const settings = fireListSettings(config)
  const list = await fireList(db, alarm, settings)
  const inside = { staff: ['Nia'], visitors: ['Val Night'] }
  assert.deepEqual(
    { staff: list.unconfirmed.map((p) => p.firstName), visitors: list.visitors.map((v) => v.name) },
    inside,
    'inside at that instant, closed unseen a moment later: on the list, unconfirmed',
  )
  const { rollCall } = await startRollCall(db, {
    personId: desk.id,
    at: alarm,
    context,
    kind: 'real',
    fireList: settings,
  })
  const view = await rollCallView(db, rollCall.id)
  assert.deepEqual(
    { staff: view.lines.map((l) => l.firstName), visitors: view.visitors.map((v) => v.name) },
    inside,
    'on the roll call',
  )
  assert.equal(view.counts.unaccounted, 2)
})

test('someone unconfirmed on a running roll call who taps in during it shows as in since that tap, not with the old reason', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-23T17:00:00Z') // Europe/London: UTC in November.
  const { db } = ctx.app.ctx
  const desk = await deskReceptionist(ctx)
  const sam = await personWithRole(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Early' })
  await tapSignIn(sam.browser)
  ctx.clock.set('2026-11-23T23:59:00Z')
  assert.deepEqual(await autoClose({ ...ctx.app.ctx, log: ctx.app.log }), { closed: 1 })

  // A drill at 08:50: Sam is on it, unconfirmed (closed unseen last night). At 08:55 Sam arrives.
  ctx.clock.set('2026-11-24T08:50:00Z')
  await desk.browser.get('/reception/roll-calls')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill' })
  const rollCallId = Number(/\/(\d+)$/.exec(String(started.headers.location))?.[1])
  const samOnIt = async () => {
    const line = (await rollCallView(db, rollCallId)).lines.find((l) => l.personId === sam.id)
    assert.ok(line, 'Sam is on the roll call')
    return { confirmed: line.confirmed, reason: line.reason, signedInAt: line.signedInAt }
  }
  assert.deepEqual(await samOnIt(), {
    confirmed: false,
    reason: 'auto-closed',
    signedInAt: Date.parse('2026-11-23T17:00:00Z'),
  })
  ctx.clock.set('2026-11-24T08:55:00Z')
  await tapSignIn(sam.browser)
  assert.deepEqual(await samOnIt(), {
    confirmed: true,
    reason: null,
    signedInAt: Date.parse('2026-11-24T08:55:00Z'),
  })
})

test('a visit the register closed long after its recorded end says when it was closed, not that end: on the board, the display, the API, the roll call, its printed list, CSV and report, for staff and visitors', async (t) => {
  const ctx = await buildTestApp(t)
  // Monday 21:00, after that day's auto-close: Sam comes in, and signs a visitor in at the desk.
  ctx.clock.set('2026-11-23T21:00:00Z') // Europe/London: UTC in November.
  const { desk } = await signInWithVisitors(ctx, 'sam@example.org', { firstName: 'Sam', lastName: 'Late' }, [
    'Vic Late',
  ])
  // Tuesday's run, at 20:00, ends both visits at the end of Monday, the day they began.
  ctx.clock.set('2026-11-24T20:00:00Z')
  assert.deepEqual(await autoClose({ ...ctx.app.ctx, log: ctx.app.log }), { closed: 2 })
  const closedAt = Date.parse('2026-11-24T20:00:00Z')
  const why = (closed: string) =>
    `signed in Mon 23 Nov 21:00, not seen leaving (visit closed automatically at ${closed})`
  const esc = (text: string) => text.replace(/[()]/g, '\\$&')
  const pattern = (name: string, text: string) => new RegExp(`${name}[\\s\\S]*?${esc(text)}`)

  ctx.clock.set('2026-11-24T20:30:00Z')
  const board = (await desk.browser.get('/reception')).body
  const display = (await desk.browser.get('/reception/display')).body
  for (const name of ['Sam Late', 'Vic Late']) {
    assert.match(board, pattern(name, why('20:00')))
    assert.match(display, pattern(name, `unconfirmed: ${why('20:00')}`), `${name} on the desk's display`)
  }
  const token = await apiTokenFor(ctx, 'desk@example.org')
  const api = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/presence',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.deepEqual(api.json().people[0].reason, {
    kind: 'auto-closed',
    at: new Date(closedAt).toISOString(),
    text: why('20:00'),
  })

  // The alarm rings at 00:30 on Wednesday: the close was on the day before.
  ctx.clock.set('2026-11-25T00:30:00Z')
  await desk.browser.get('/reception')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })
  const url = String(started.headers.location)
  const onTuesday = why('Tue 24 Nov 20:00')
  const page = (await desk.browser.get(url)).body
  const print = (await desk.browser.get(`${url}/print`)).body
  for (const name of ['Sam Late', 'Vic Late']) {
    assert.match(page, pattern(name, onTuesday), `${name} on the roll call`)
    assert.match(print, pattern(name, onTuesday), `${name} on the printed list`)
  }
  const csv = (await desk.browser.get(`${url}/report.csv`)).body
  assert.match(csv, new RegExp(`^Sam,Late,.*,no,"${esc(onTuesday)}",yes,,no$`, 'm'), csv)
  assert.match(csv, new RegExp(`^Vic Late,.*,no,"${esc(onTuesday)}",yes,,no$`, 'm'), csv)
  await desk.browser.get(url)
  assert.equal((await desk.browser.post(`${url}/end`)).statusCode, 303)
  const report = (await desk.browser.get(`${url}/report`)).body
  assert.match(report, new RegExp(`<td>Sam Late</td><td>${esc(onTuesday)}</td>`))
  assert.match(report, pattern('Vic Late', `</td><td>${onTuesday}</td>`))
})

test('a visitor whose visit began on an earlier day reads as staff do, "open since Mon 23 Nov 14:05": on the board, the display, the roll call, its printed list, CSV and report', async (t) => {
  const ctx = await buildTestApp(t)
  // Monday: Sam comes in at 14:00 and signs a visitor in at the desk at 14:05; nobody signs out and
  // no auto-close runs (it is off, or the worker is down).
  ctx.clock.set('2026-11-23T14:00:00Z') // Europe/London: UTC in November.
  const { desk } = await signInWithVisitors(
    ctx,
    'sam@example.org',
    { firstName: 'Sam', lastName: 'Early' },
    [],
  )
  ctx.clock.set('2026-11-23T14:05:00Z')
  const sam = await ctx.app.ctx.db
    .selectFrom('contact')
    .select('person_id')
    .where('value', '=', 'sam@example.org')
    .executeTakeFirstOrThrow()
  await desk.browser.get('/reception/visitors/new')
  const added = await desk.browser.post('/reception/visitors', {
    name: 'Vic Early',
    company: 'Acme',
    hostId: String(sam.person_id),
  })
  assert.equal(added.statusCode, 303, added.body)
  const staff = 'open since Mon 23 Nov 14:00'
  const visitor = 'open since Mon 23 Nov 14:05'
  const pattern = (name: string, text: string) => new RegExp(`${name}[\\s\\S]*?${text}`)

  // Tuesday 09:00.
  ctx.clock.set('2026-11-24T09:00:00Z')
  const board = (await desk.browser.get('/reception')).body
  assert.match(board, pattern('Sam Early', staff))
  assert.match(board, pattern('Vic Early', `unconfirmed</strong> <span class="reason">${visitor}</span>`))
  assert.doesNotMatch(board, /earlier day/)
  const display = (await desk.browser.get('/reception/display')).body
  assert.match(display, pattern('Vic Early', `unconfirmed: ${visitor}`))

  // The alarm rings at 09:30.
  ctx.clock.set('2026-11-24T09:30:00Z')
  await desk.browser.get('/reception')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill', confirm: 'yes' })
  const url = String(started.headers.location)
  const page = (await desk.browser.get(url)).body
  const print = (await desk.browser.get(`${url}/print`)).body
  assert.match(page, pattern('Sam Early', staff))
  assert.match(page, pattern('Vic Early', visitor), 'on the roll call')
  assert.match(print, pattern('Vic Early', `unconfirmed: ${visitor}`), 'on the printed list')
  const csv = (await desk.browser.get(`${url}/report.csv`)).body
  assert.match(csv, new RegExp(`^Sam,Early,.*,no,${staff},`, 'm'), csv)
  assert.match(csv, new RegExp(`^Vic Early,.*,no,${visitor},yes,,no$`, 'm'), csv)
  for (const text of [page, print, csv]) assert.doesNotMatch(text, /earlier day/)
  await desk.browser.get(url)
  assert.equal((await desk.browser.post(`${url}/end`)).statusCode, 303)
  const report = (await desk.browser.get(`${url}/report`)).body
  assert.match(report, new RegExp(`<td>Sam Early</td><td>${staff}</td>`))
  assert.match(report, pattern('Vic Early', `</td><td>${visitor}</td>`), 'in the drill report')
  assert.doesNotMatch(report, /earlier day/)
})
