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

test('a visitor who was off the list when the roll call started (signed out after the evacuation message) and answers it is on the roll call with their answer, as staff are: "I need help" sent before the start or during it is never lost', async (t) => {
  const { ctx, host, desk, tablet } = await hostDeskAndKiosk(t)
  const { db } = ctx.app.ctx
  await tapSignIn(desk.browser)
  const arrive = async (name: string, phone: string) => {
    const r = await tablet.api('POST', '/kiosk/api/visitors', { hostId: host, name, phone })
    assert.equal(r.statusCode, 201, r.body)
    return r.json().visitorId as number
  }
  const hal = await arrive('Hal Helpbefore', '07400 111111')
  const gus = await arrive('Gus Helpduring', '07400 222222')
  await arrive('Sal Safe', '07400 333333')

  // The evacuation message reaches all three; Hal and Gus are signed out at the desk on their way
  // out (or by a wrong tap: either way the register has them out) before the roll call starts.
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
  // Hal asks for help before anyone starts the roll call; Gus once it runs.
  await answerHelp('+447400111111')
  ctx.clock.advance(60_000)
  await desk.browser.get('/reception/roll-calls')
  const rollCall = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })).headers.location,
  )
  const rollCallId = Number(/\/(\d+)$/.exec(rollCall)![1])
  ctx.clock.advance(60_000)
  await answerHelp('+447400222222')

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
