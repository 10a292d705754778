import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { rollCallView } from '../../reception/roll-call.service.js'
import { buildTestApp, TestBrowser } from '../../testing/build-test-app.js'
import { makePerson } from '../../testing/factories.js'
import { kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { deliveriesFinished, deskReceptionist, tapSignIn } from '../../testing/reception.js'
import { apiTokenFor, giveRole } from '../../testing/roles.js'
import { visitorLink } from '../../visitors/visitor-links.js'

test('visitors are on the fire list: the board (marked, host, phone, sign-out), the presence API, the roll call with marks, and its CSV', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const host = await makePerson(db, { firstName: 'Hana', lastName: 'Host', email: 'hana@example.org' })
  const desk = await deskReceptionist(ctx)
  await tapSignIn(desk.browser)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const vera = (
    await tablet.api('POST', '/kiosk/api/visitors', {
      name: 'Vera Visitor',
      company: 'Acme Ltd',
      hostId: host,
      phone: '07400 123456',
    })
  ).json().visitorId
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Gus Gone', hostId: host })
  const gus = (
    await db.selectFrom('visitor').select('id').where('name', '=', 'Gus Gone').executeTakeFirstOrThrow()
  ).id
  await tablet.api('POST', `/kiosk/api/visitors/${gus}/sign-out`, {})

  const board = await desk.browser.get('/reception')
  assert.match(board.body, /<span class="count">2<\/span> people on the fire list/, 'Rita and Vera')
  assert.match(board.body, /<strong>1<\/strong> visitor</)
  const visitors = board.body.slice(board.body.indexOf('id="visitors"'))
  assert.match(
    visitors,
    /Vera Visitor<\/span> <strong class="tag">visitor<\/strong> <span class="company">Acme Ltd/,
  )
  assert.match(visitors, /visiting Hana Host/)
  assert.match(visitors, /href="tel:\+447400123456"/)
  assert.doesNotMatch(visitors.slice(0, visitors.indexOf('</ul>')), /Gus Gone/, 'signed out: not on the list')

  // The presence API.
  const token = await apiTokenFor(ctx, 'api-desk@example.org')
  await giveRole(ctx, 'api-desk@example.org', 'reception')
  const api = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/presence',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(api.statusCode, 200)
  assert.deepEqual(api.json().visitors, [
    {
      id: vera,
      name: 'Vera Visitor',
      company: 'Acme Ltd',
      host: 'Hana Host',
      since: new Date(ctx.clock.now()).toISOString(),
      confirmed: true,
    },
  ])
  assert.equal(api.json().counts.visitors, 1)

  // The roll call, a minute later (Gus's sign-out dated at its very instant would be one during the
  // alarm): Vera on the snapshot with host and phone, marked safe by a marshal.
  ctx.clock.advance(60_000)
  await desk.browser.get('/reception/roll-calls')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill' })
  const rollCall = String(started.headers.location)
  const page = await desk.browser.get(rollCall)
  const section = page.body.slice(page.body.indexOf('<h2 id="visitors">'))
  assert.match(section, /Visitors \(1\)/)
  assert.match(section, /Vera Visitor/)
  assert.match(section, /visiting Hana Host/)
  assert.match(section, /href="tel:\+447400123456"/)
  assert.match(page.body, /<span class="count">0<\/span> safe/)
  assert.match(page.body, /<span class="count">2<\/span> not accounted for/)
  // The printed list (for when phones fail) has her too, with who she is visiting.
  const printed = (await desk.browser.get(`${rollCall}/print`)).body
  assert.match(printed, /<td>Vera Visitor \(visitor, Acme Ltd, visiting Hana Host\)<\/td>/)
  await desk.browser.get(rollCall)
  const marked = await desk.browser.post(`${rollCall}/marks`, { person: `v${vera}`, status: 'safe' })
  assert.equal(marked.statusCode, 303)
  assert.match(String(marked.headers.location), new RegExp(`#v-${vera}$`))
  const after = await desk.browser.get(rollCall)
  assert.match(after.body, /<span class="count">1<\/span> safe/)
  const unknown = await desk.browser.post(`${rollCall}/marks`, { person: 'v999', status: 'safe' })
  assert.equal(unknown.statusCode, 303)
  await desk.browser.get(rollCall)
  await desk.browser.post(`${rollCall}/end`)
  const csv = await desk.browser.get(`${rollCall}/report.csv`)
  assert.match(
    csv.body,
    /Vera Visitor,,visitor · Acme Ltd · visiting Hana Host · \+447400123456,safe,Rita Desk/,
  )
})

test('reception signs a visitor out from the board', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const host = await makePerson(db, { firstName: 'Hana', lastName: 'Host', email: 'hana@example.org' })
  const desk = await deskReceptionist(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const id = (await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', hostId: host })).json()
    .visitorId
  await desk.browser.get('/reception')
  const out = await desk.browser.post(`/reception/visitors/${id}/sign-out`)
  const board = await desk.browser.follow(out)
  assert.match(board.body, /Vera Visitor is signed out/)
  assert.match(board.body, /Visitors \(0\)/)
})

test('every visitor arrival and departure is announced live with the visitor, never as a person (kiosk, badge link, reception)', async (t) => {
  const ctx = await buildTestApp(t)
  const { db, events, keys } = ctx.app.ctx
  const host = await makePerson(db, { firstName: 'Hana', lastName: 'Host', email: 'hana@example.org' })
  const desk = await deskReceptionist(ctx)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const heard: { personId: number | null; visitorId?: number; action: string }[] = []
  events.on('change', (c) => heard.push({ personId: c.personId, visitorId: c.visitorId, action: c.action }))

  const vera = (
    await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', hostId: host })
  ).json().visitorId
  await tablet.api('POST', `/kiosk/api/visitors/${vera}/sign-out`, {})
  await tablet.api('POST', `/kiosk/api/visitors/${vera}/sign-out`, {}) // already out: nothing to announce
  const lee = (await tablet.api('POST', '/kiosk/api/visitors', { name: 'Lee Link', hostId: host })).json()
    .visitorId
  const link = new URL(visitorLink(keys.links, ctx.config.PUBLIC_URL, lee, 'out')).pathname
  await ctx.app.inject({ method: 'POST', url: link })
  await desk.browser.get('/reception/visitors/new')
  await desk.browser.post('/reception/visitors', { name: 'Walk In', host: 'Hana Host' })
  const walkIn = (
    await db.selectFrom('visitor').select('id').where('name', '=', 'Walk In').executeTakeFirstOrThrow()
  ).id
  await desk.browser.post(`/reception/visitors/${walkIn}/sign-out`)

  assert.deepEqual(heard, [
    { personId: null, visitorId: vera, action: 'signed-in' },
    { personId: null, visitorId: vera, action: 'signed-out' },
    { personId: null, visitorId: lee, action: 'signed-in' },
    { personId: null, visitorId: lee, action: 'signed-out' },
    { personId: null, visitorId: walkIn, action: 'signed-in' },
    { personId: null, visitorId: walkIn, action: 'signed-out' },
  ])
})

/** Hana (a host), Rita at the desk (reception) and a paired kiosk. */
async function hostDeskAndKiosk(t: TestContext) {
  const ctx = await buildTestApp(t)
  const host = await makePerson(ctx.app.ctx.db, {
    firstName: 'Hana',
    lastName: 'Host',
    email: 'hana@example.org',
  })
  return {
    ctx,
    host,
    desk: await deskReceptionist(ctx),
    tablet: await pairedKiosk(ctx, await kioskAdmin(ctx)),
  }
}

test('a visitor whose name starts like a formula (also full-width ＝ ＋ － ＠) is plain text in the roll-call CSV', async (t) => {
  const { host, desk, tablet } = await hostDeskAndKiosk(t)
  const names = ['=cmd Vera', '＝cmd Fay', '＋cmd Gil', '－cmd Hal', '＠cmd Ivy']
  for (const name of names)
    assert.equal((await tablet.api('POST', '/kiosk/api/visitors', { name, hostId: host })).statusCode, 201)
  await desk.browser.get('/reception/roll-calls')
  const rollCall = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location,
  )
  const csv = (await desk.browser.get(`${rollCall}/report.csv`)).body
  for (const name of names) {
    const line = csv.split('\n').find((l) => l.includes(name.slice(1)))
    assert.ok(line?.startsWith(`'${name}`), `${name}: ${line}`)
  }
})

test('the drill report counts visitors: nobody is "everyone accounted for" while a visitor was never marked safe', async (t) => {
  const { ctx, host, desk, tablet } = await hostDeskAndKiosk(t)
  await tapSignIn(desk.browser)
  const vera = (
    await tablet.api('POST', '/kiosk/api/visitors', { name: 'Vera Visitor', hostId: host })
  ).json().visitorId
  const drill = async (marks: string[]) => {
    await desk.browser.get('/reception/roll-calls')
    const url = String((await desk.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location)
    for (const person of marks) {
      await desk.browser.get(url)
      ctx.clock.advance(60_000)
      assert.equal((await desk.browser.post(`${url}/marks`, { person, status: 'safe' })).statusCode, 303)
    }
    await desk.browser.get(url)
    await desk.browser.post(`${url}/end`, {})
    return (await desk.browser.get(`${url}/report`)).body
  }
  const staffOnly = await drill([String(desk.id)])
  // The breakdown adds up to the total: Rita in, and Vera, the visitor.
  assert.match(staffOnly, /On the list<\/dt><dd>2 \(1 in, 0 unconfirmed, 1 visitor\)<\/dd>/)
  assert.match(staffOnly, /no: 1 never accounted for/)
  assert.match(staffOnly, /Never accounted for \(1\)[\s\S]*Vera Visitor/)
  const everyone = await drill([String(desk.id), `v${vera}`])
  assert.match(everyone, /after <strong>2 min 0 s<\/strong>/)
  assert.match(everyone, /Rita Desk \(2\)/, 'both marks counted for the marshal')
})

/** Reception sends the evacuation message to everyone inside, asking for answers; its delivery board. */
async function sendEvacuation(browser: TestBrowser): Promise<string> {
  await browser.get('/reception/broadcasts/new?template=evacuation')
  const sent = await browser.post('/reception/broadcasts', {
    template: 'evacuation',
    audience: 'inside',
    message: 'Leave the building now.',
    askSafety: 'yes',
  })
  assert.equal(sent.statusCode, 303, sent.body)
  return String(sent.headers.location)
}

test('an evacuation message reaches visitors inside too: by text or email, on the delivery board, and their answer lands on the roll call', async (t) => {
  const { ctx, host, desk, tablet } = await hostDeskAndKiosk(t)
  const { db } = ctx.app.ctx
  await tapSignIn(desk.browser)
  const arrive = async (body: Record<string, unknown>) => {
    const r = await tablet.api('POST', '/kiosk/api/visitors', { hostId: host, ...body })
    assert.equal(r.statusCode, 201, r.body)
    return r.json().visitorId as number
  }
  const vera = await arrive({ name: 'Vera Visitor', phone: '07400 123456' })
  const eve = await arrive({ name: 'Eve Email', email: 'eve@example.com' })
  const nora = await arrive({ name: 'Nora None' })
  const gus = await arrive({ name: 'Gus Gone', phone: '07400 999999' })
  await desk.browser.get('/reception')
  await desk.browser.post(`/reception/visitors/${gus}/sign-out`, {})

  await desk.browser.get('/reception')
  const rollCall = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })).headers.location,
  )
  const board = await sendEvacuation(desk.browser)
  await deliveriesFinished(ctx)
  const recipients = await db
    .selectFrom('broadcast_recipient')
    .select(['person_id', 'visitor_id', 'status', 'contact_value', 'error'])
    .orderBy('id')
    .execute()
  assert.deepEqual(
    recipients.map((r) => [r.person_id, r.visitor_id, r.status, r.contact_value]),
    [
      [desk.id, null, 'sent', 'desk@example.org'],
      [null, eve, 'sent', 'eve@example.com'],
      [null, nora, 'failed', null],
      [null, vera, 'sent', '+447400123456'],
    ],
    'everyone on the fire list, visitors by name; nobody who left',
  )
  const text =
    ctx.outbox.find((l) => l.startsWith('message to +447400123456 (broadcast)')) ??
    assert.fail('no text to Vera')
  assert.match(text, /Leave the building now/)
  assert.ok(ctx.outbox.some((l) => l.startsWith('message to eve@example.com (broadcast)')))
  assert.ok(!ctx.outbox.some((l) => l.startsWith('message to +447400999999 ')), 'not to Gus, who left')
  const deliveries = (await desk.browser.get(board)).body
  assert.match(deliveries, /Vera Visitor <strong class="tag">visitor<\/strong>/)
  assert.match(
    deliveries,
    /Nora None <strong class="tag">visitor<\/strong>[\s\S]*?failed[\s\S]*?no phone number or email/,
  )

  // Vera answers "I need help" from her phone: reception can call her, the roll call shows it.
  const help = /I need help: http:\/\/register\.test(\/b\/\S+)/.exec(text)![1]!
  const phone = new TestBrowser(ctx.app, '198.51.100.7')
  assert.match((await phone.get(help)).body, /Hello Vera, tell reception:/)
  assert.match((await phone.post(help, {}, false)).body, /Reception knows you need help/)
  assert.match(
    (await desk.browser.get(board)).body,
    /NEEDS HELP.*<a class="call" href="tel:\+447400123456">Call \+44 7400 123456<\/a>/,
  )
  const onRollCall = (await desk.browser.get(rollCall)).body
  const veraLine = onRollCall.slice(onRollCall.indexOf(`id="v-${vera}"`))
  assert.match(veraLine.slice(0, veraLine.indexOf('</li>')), /needs help[\s\S]*said so themselves/)
})

/**
 * Hal, Gus and Sal visit; the evacuation message reaches all three; Hal and Gus are signed out at
 * the desk on their way out (or by a wrong tap: either way the register has them out) before the
 * roll call starts. Hal asks for help before anyone starts it; Gus once it runs.
 */
async function visitorsAnsweringOffTheList(t: TestContext) {
  const { ctx, host, desk, tablet } = await hostDeskAndKiosk(t)
  await tapSignIn(desk.browser)
  const arrive = async (name: string, phone: string) => {
    const r = await tablet.api('POST', '/kiosk/api/visitors', { hostId: host, name, phone })
    assert.equal(r.statusCode, 201, r.body)
    return r.json().visitorId as number
  }
  const hal = await arrive('Hal Helpbefore', '07400 111111')
  const gus = await arrive('Gus Helpduring', '07400 222222')
  const sal = await arrive('Sal Safe', '07400 333333')

  await sendEvacuation(desk.browser)
  await deliveriesFinished(ctx)
  ctx.clock.advance(60_000)
  await desk.browser.get('/reception')
  for (const id of [hal, gus]) await desk.browser.post(`/reception/visitors/${id}/sign-out`, {})
  ctx.clock.advance(60_000)
  const helpLink = (phone: string) => {
    const text =
      ctx.outbox.find((l) => l.startsWith(`message to ${phone} (broadcast)`)) ??
      assert.fail(`no text to ${phone}`)
    return /I need help: http:\/\/register\.test(\/b\/\S+)/.exec(text)![1]!
  }
  const answerHelp = async (phone: string) => {
    const browser = new TestBrowser(ctx.app, '198.51.100.7')
    await browser.get(helpLink(phone))
    assert.match((await browser.post(helpLink(phone), {}, false)).body, /Reception knows you need help/)
  }
  await answerHelp('+447400111111')
  ctx.clock.advance(60_000)
  await desk.browser.get('/reception/roll-calls')
  const rollCall = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })).headers.location,
  )
  const rollCallId = Number(/\/(\d+)$/.exec(rollCall)![1])
  ctx.clock.advance(60_000)
  await answerHelp('+447400222222')
  return { ctx, desk, tablet, host, hal, gus, sal, rollCall, rollCallId }
}

test('a visitor who was off the list when the roll call started (signed out after the evacuation message) and answers it is on the roll call with their answer, as staff are: "I need help" sent before the start or during it is never lost', async (t) => {
  const { ctx, desk, hal, gus, rollCall, rollCallId } = await visitorsAnsweringOffTheList(t)
  const { db } = ctx.app.ctx
  const view = await rollCallView(db, rollCallId)
  assert.deepEqual(
    view.visitors.map((l) => [l.name, l.status, l.via]),
    [
      ['Gus Helpduring', 'help', 'self'],
      ['Hal Helpbefore', 'help', 'self'],
      ['Sal Safe', 'unaccounted', null],
    ],
    'both calls for help are on the roll call',
  )
  assert.equal(view.counts.help, 2)
  assert.equal(
    view.counts.unaccounted,
    4,
    'the receptionist, Sal, and the two who asked for help are still to be found',
  )
  const page = (await desk.browser.get(rollCall)).body
  for (const id of [hal, gus]) {
    const line = page.slice(page.indexOf(`id="v-${id}"`))
    assert.match(line.slice(0, line.indexOf('</li>')), /needs help[\s\S]*said so themselves/)
  }
})

/** One cell of the roll-call CSV's row that starts with `name` (cells without commas in them). */
function csvCell(csv: string, name: string, column: number): string | undefined {
  return csv
    .split('\n')
    .find((l) => l.startsWith(`${name},`))
    ?.split(',')[column]
}

/** A group of the roll call page, from its heading to the end of its list. */
function rollCallGroup(page: string, id: string): string {
  const from = page.indexOf(`<h2 id="${id}">`)
  assert.ok(from >= 0, `the page has the group "${id}"`)
  const group = page.slice(from)
  return group.slice(0, group.indexOf('</ul>'))
}

test('a visitor put on the running roll call by their own answer is under "Not on the list when it started" and counted as staff off the list are, on the page, in print, in the report and the CSV; a visitor signing in during it is an ordinary visitor line, as staff signing in are', async (t) => {
  const { ctx, desk, tablet, host, hal, gus, sal, rollCall, rollCallId } =
    await visitorsAnsweringOffTheList(t)
  const { db } = ctx.app.ctx
  // Ivy arrives during the alarm: inside like the rest, as a member of staff tapping in is.
  const arrived = await tablet.api('POST', '/kiosk/api/visitors', {
    hostId: host,
    name: 'Ivy Inlate',
    phone: '07400 444444',
  })
  assert.equal(arrived.statusCode, 201, arrived.body)
  const ivy = arrived.json().visitorId as number

  const page = (await desk.browser.get(rollCall)).body
  const extra = rollCallGroup(page, 'extra')
  assert.match(extra, /Not on the list when it started \(2\)/)
  for (const [name, id] of [
    ['Hal', hal],
    ['Gus', gus],
  ] as const)
    assert.ok(
      extra.includes(`id="v-${id}"`),
      `${name} (answered while off the list) is not on the list when it started`,
    )
  const visitors = rollCallGroup(page, 'visitors')
  assert.match(visitors, /Visitors \(2\)/)
  for (const [name, id] of [
    ['Sal', sal],
    ['Ivy', ivy],
  ] as const)
    assert.ok(visitors.includes(`id="v-${id}"`), `${name} is an ordinary visitor line`)
  // Counted as staff off the list are: not on the list, still to be found while they need help.
  assert.match(
    page,
    /3 on the list: <a href="#in">1 in<\/a> · <a href="#unconfirmed">0 unconfirmed<\/a> · <a href="#visitors">2 visitors<\/a>/,
  )
  assert.deepEqual(
    (await rollCallView(db, rollCallId)).counts,
    { total: 3, accounted: 0, unaccounted: 3 + 2, missing: 0, help: 2, unmarked: 3 },
    'Rita, Sal and Ivy on the list; Hal and Gus to be found as they asked for help',
  )

  // A marshal finds Gus: no longer sought, and not counted safe on a list he was not on; as for
  // staff off the list, "Undo" would drop the search for him, so it is not offered and is refused.
  ctx.clock.advance(60_000)
  assert.equal(
    (await desk.browser.post(`${rollCall}/marks`, { person: `v${gus}`, status: 'safe' })).statusCode,
    303,
  )
  const found = (await desk.browser.get(rollCall)).body
  assert.match(found, /<span class="count">0<\/span> safe/)
  assert.match(found, /<span class="count">4<\/span> not accounted for/)
  const gusLine = found.slice(found.indexOf(`id="v-${gus}"`))
  assert.doesNotMatch(gusLine.slice(0, gusLine.indexOf('</li>')), /value="unaccounted"/)
  const undo = await desk.browser.post(`${rollCall}/marks`, { person: `v${gus}`, status: 'unaccounted' })
  assert.match((await desk.browser.follow(undo)).body, /They were not on the list when the alarm rang/)

  // The printed list says so too.
  const printed = (await desk.browser.get(`${rollCall}/print`)).body
  for (const name of ['Hal Helpbefore', 'Gus Helpduring']) {
    const row = printed.slice(printed.indexOf(`<td>${name} (visitor`))
    assert.match(row.slice(0, row.indexOf('</tr>')), /not on the list when it started/, name)
  }
  for (const name of ['Sal Safe', 'Ivy Inlate']) {
    const row = printed.slice(printed.indexOf(`<td>${name} (visitor`))
    assert.doesNotMatch(row.slice(0, row.indexOf('</tr>')), /not on the list when it started/, name)
  }

  await desk.browser.get(rollCall)
  await desk.browser.post(`${rollCall}/end`, {})
  const report = (await desk.browser.get(`${rollCall}/report`)).body
  assert.match(report, /On the list<\/dt><dd>3 \(1 in, 0 unconfirmed, 2 visitors\)<\/dd>/)
  assert.match(report, /no: 4 never accounted for/, 'Rita, Sal, Ivy, and Hal who asked for help')
  const csv = (await desk.browser.get(`${rollCall}/report.csv`)).body
  // The "On list" column (the 11th), as for staff off the list.
  const onList = (name: string) => csvCell(csv, name, 10)
  assert.deepEqual(['Hal Helpbefore', 'Gus Helpduring', 'Sal Safe', 'Ivy Inlate'].map(onList), [
    'no',
    'no',
    'yes',
    'yes',
  ])
  const ended = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'roll-call.ended')
    .executeTakeFirstOrThrow()
  const kept = JSON.parse(ended.detail).visitors as { visitorId: number; onSnapshot: boolean }[]
  assert.deepEqual(
    [hal, gus, sal, ivy].map((id) => kept.find((v) => v.visitorId === id)?.onSnapshot),
    [false, false, true, true],
    'the report kept in the audit trail says who was not on the list when it started',
  )
})

test('a visitor’s own answer on the roll call is marked by "self" in print, in the CSV and in the report kept at the end, as a member of staff’s is (it was blank)', async (t) => {
  const { ctx, desk, rollCall } = await visitorsAnsweringOffTheList(t)
  const { db } = ctx.app.ctx
  const printed = (await desk.browser.get(`${rollCall}/print`)).body
  for (const name of ['Hal Helpbefore', 'Gus Helpduring']) {
    const row = printed.slice(printed.indexOf(`<td>${name} (visitor`))
    const cells = row.slice(0, row.indexOf('</tr>')).split('<td>')
    assert.match(cells[3] ?? '', /^self \d\d:\d\d<\/td>/, `${name}: ${cells[3]}`)
  }
  await desk.browser.get(rollCall)
  await desk.browser.post(`${rollCall}/end`, {})
  const csv = (await desk.browser.get(`${rollCall}/report.csv`)).body
  // The "Marked by" column (the 5th).
  const markedBy = (name: string) => csvCell(csv, name, 4)
  assert.deepEqual(['Hal Helpbefore', 'Gus Helpduring', 'Sal Safe'].map(markedBy), ['self', 'self', ''])
  const ended = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'roll-call.ended')
    .executeTakeFirstOrThrow()
  const kept = JSON.parse(ended.detail).visitors as { status: string; markedBy: string | null }[]
  assert.deepEqual(
    kept.map((v) => [v.status, v.markedBy]),
    [
      ['help', 'self'],
      ['help', 'self'],
      ['unaccounted', null],
    ],
  )
})
