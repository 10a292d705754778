import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { insertContact } from '../../identity/contact.repository.js'
import { channelsFromConfig } from '../../messaging/channels.js'
import { consoleChannel } from '../../messaging/console.channel.js'
import { buildTestApp, type TestApp, TestBrowser, testConfig } from '../../testing/build-test-app.js'
import { FakeTwilio } from '../../testing/fake-twilio.js'
import {
  deliveriesFinished,
  deskReceptionist,
  eventually,
  personWithRole,
  tapSignIn,
  tapSignOut,
  twoMarshals,
} from '../../testing/reception.js'

test('the presence board groups people in and unconfirmed (with the reason), counts people, greys departures', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const desk = await deskReceptionist(ctx)
  // Zoe left a visit open yesterday: she may or may not be inside.
  ctx.clock.set('2026-11-22T09:00:00Z')
  const zoe = await personWithRole(ctx, 'zoe@example.org', { firstName: 'Zoe', lastName: 'Adams' })
  await tapSignIn(zoe.browser)
  ctx.clock.set('2026-11-23T08:00:00Z')
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'bob', lastName: 'Brown' })
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  const carl = await personWithRole(ctx, 'carl@example.org', { firstName: 'Carl', lastName: 'Dean' })
  await tapSignIn(bob.browser)
  await tapSignIn(amy.browser)
  await tapSignOut(amy.browser)
  ctx.clock.advance(60_000)
  await tapSignIn(amy.browser)
  await tapSignIn(carl.browser)
  ctx.clock.set('2026-11-23T09:30:00Z')
  await tapSignOut(carl.browser)
  // An auto-closed visit from this morning (the nightly job's kind of record).
  const dan = await personWithRole(ctx, 'dan@example.org', { firstName: 'Dan', lastName: 'Evans' })
  await db
    .insertInto('visit')
    .values({
      person_id: dan.id,
      signed_in_at: Date.parse('2026-11-23T07:00:00Z'),
      signed_out_at: Date.parse('2026-11-23T08:30:00Z'),
      closed_by: 'auto',
    })
    .execute()

  // Last night's auto-close (closed at the end of yesterday) is shown; a normal sign-out from yesterday is not.
  const eve = await personWithRole(ctx, 'eve@example.org', { firstName: 'Eve', lastName: 'Night' })
  const fay = await personWithRole(ctx, 'fay@example.org', { firstName: 'Fay', lastName: 'Gone' })
  for (const [id, closedBy] of [
    [eve.id, 'auto'],
    [fay.id, 'person'],
  ] as const) {
    await db
      .insertInto('visit')
      .values({
        person_id: id,
        signed_in_at: Date.parse('2026-11-22T09:00:00Z'),
        signed_out_at: Date.parse('2026-11-22T23:59:59Z'),
        closed_by: closedBy,
      })
      .execute()
  }

  const page = await desk.browser.get('/reception')
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /<span class="count">5<\/span> people on the fire list/)
  assert.match(
    page.body,
    /<strong>2<\/strong> in<\/a> · <a href="#unconfirmed"><strong>3<\/strong> unconfirmed/,
  )
  const section = (label: string, next: string) =>
    page.body.slice(page.body.indexOf(`aria-label="${label}"`), page.body.indexOf(next))
  const namesIn = (html: string) => [...html.matchAll(/<span class="name">([^<]+)<\/span>/g)].map((m) => m[1])
  const inside = section('In', 'id="unconfirmed"')
  assert.deepEqual(namesIn(inside), ['Amy Clark', 'bob Brown'], 'Amy counts once despite two visits')
  const unconfirmed = section('Unconfirmed', 'id="visitors"')
  assert.deepEqual(namesIn(unconfirmed), ['Dan Evans', 'Eve Night', 'Zoe Adams'])
  assert.match(
    unconfirmed,
    /Zoe Adams[\s\S]*unconfirmed<\/strong> <span class="reason">open since Sun 22 Nov 09:00/,
  )
  // Rows closed before closed_at existed count from their end.
  assert.match(
    unconfirmed,
    /Dan Evans[\s\S]*signed in 07:00, not seen leaving \(visit closed automatically at 08:30\)/,
  )
  assert.match(
    unconfirmed,
    /Eve Night[\s\S]*signed in Sun 22 Nov 09:00, not seen leaving \(visit closed automatically at Sun 22 Nov 23:59\)/,
  )
  const left = page.body.slice(page.body.indexOf('aria-label="Left today"'))
  assert.match(
    left,
    /Carl Dean<\/span>\s*<\/span>?\s*<span class="when">\s*left at|Carl Dean<\/span>\s*<span class="when">\s*left at/,
  )
  assert.doesNotMatch(left, /Amy Clark/, 'back inside, so not among departures')
  assert.doesNotMatch(left, /Fay Gone|Eve Night|Dan Evans/, 'on the fire list or gone yesterday')
  assert.doesNotMatch(page.body, /Fay Gone/)
  assert.match(page.body, /<noscript><meta http-equiv="refresh" content="30"><\/noscript>/)
  // The script is linked by its content hash (cached for a year), and that URL serves it.
  const script = /<script src="(\/static\/reception\.js\?v=[\w-]+)" defer><\/script>/.exec(page.body)
  assert.ok(script, 'the board loads its script')

  const display = await desk.browser.get('/reception/display')
  assert.equal(display.statusCode, 200)
  assert.match(display.body, /class="display"/)
  assert.match(display.body, /<span class="count">5<\/span> on the fire list · 2 in · 3 unconfirmed/)
  const js = await ctx.app.inject({ method: 'GET', url: script[1] })
  assert.equal(js.statusCode, 200)
  assert.match(String(js.headers['content-type']), /javascript/)
})

test('reception routes: not recognised → login, staff → a clear 403 page, reception and admin → allowed', async (t) => {
  const ctx = await buildTestApp(t)
  const staff = await personWithRole(ctx, 'staff@example.org', { firstName: 'Sam', lastName: 'Staff' })
  const desk = await deskReceptionist(ctx)
  const admin = await personWithRole(
    ctx,
    'boss@example.org',
    { firstName: 'Ada', lastName: 'Admin' },
    'admin',
  )
  await tapSignIn(staff.browser)
  // Something to look at on each page.
  await desk.browser.get('/reception')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill' })
  const rollCall = String(started.headers.location)
  await desk.browser.get('/reception/broadcasts/new')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'Drill now.',
  })
  const broadcast = String(sent.headers.location)

  const pages = [
    '/reception',
    '/reception/display',
    '/reception/roll-calls',
    rollCall,
    `${rollCall}/print`,
    `${rollCall}/report.csv`,
    '/reception/broadcasts',
    '/reception/broadcasts/new',
    broadcast,
  ]
  const forms: [string, Record<string, string>][] = [
    ['/reception/roll-calls', { kind: 'drill' }],
    [`${rollCall}/marks`, { person: String(staff.id), status: 'safe' }],
    [`${rollCall}/end`, {}],
    ['/reception/broadcasts', { template: 'free', audience: 'inside', message: 'Hello' }],
    [`${broadcast}/retry`, {}],
  ]
  const stranger = new TestBrowser(ctx.app)
  for (const url of [...pages, '/reception/events']) {
    const r = await stranger.get(url)
    assert.equal(r.statusCode, 303, url)
    assert.equal(r.headers.location, '/login', url)
  }
  for (const url of [...pages, '/reception/events']) {
    const r = await staff.browser.get(url)
    assert.equal(r.statusCode, 403, url)
    assert.match(r.body, /This page is for reception and fire marshals/, url)
  }
  for (const [url, fields] of forms) {
    await staff.browser.get('/')
    const r = await staff.browser.post(url, fields)
    assert.equal(r.statusCode, 403, url)
    assert.match(r.body, /This page is for reception and fire marshals/, url)
  }
  for (const who of [desk, admin]) {
    for (const url of pages) assert.equal((await who.browser.get(url)).statusCode, 200, url)
  }
  const home = await staff.browser.get('/')
  assert.doesNotMatch(home.body, /href="\/reception"/, 'no reception link for staff')
  assert.match((await desk.browser.get('/')).body, /href="\/reception">Reception</)
  assert.match((await admin.browser.get('/')).body, /href="\/reception">Reception</)
})

async function apiToken(ctx: Awaited<ReturnType<typeof buildTestApp>>, contact: string): Promise<string> {
  await ctx.app.inject({ method: 'POST', url: '/api/v1/auth/code', payload: { contact } })
  const verified = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact, code: ctx.lastCode(contact), firstName: 'Api', lastName: 'User' },
  })
  return verified.json().token
}

test('GET /api/v1/presence: reception bearer only; count of people, not records', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-22T10:00:00Z')
  const zoe = await personWithRole(ctx, 'zoe@example.org', { firstName: 'Zoe', lastName: 'Adams' })
  await tapSignIn(zoe.browser)
  ctx.clock.set('2026-11-23T08:00:00Z')
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  for (let i = 0; i < 3; i++) {
    await tapSignIn(amy.browser)
    ctx.clock.advance(60_000)
    await tapSignOut(amy.browser)
    ctx.clock.advance(60_000)
  }
  await tapSignIn(amy.browser)
  const staffToken = await apiToken(ctx, 'api-staff@example.org')
  const deskToken = await apiToken(ctx, 'api-desk@example.org')
  const { db } = ctx.app.ctx
  const desk = await db
    .selectFrom('contact')
    .select('person_id')
    .where('value', '=', 'api-desk@example.org')
    .executeTakeFirstOrThrow()
  await db.updateTable('person').set({ role: 'reception' }).where('id', '=', desk.person_id).execute()

  const none = await ctx.app.inject({ method: 'GET', url: '/api/v1/presence' })
  assert.equal(none.statusCode, 401)
  assert.equal(typeof none.json().error, 'string')
  const staff = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/presence',
    headers: { authorization: `Bearer ${staffToken}` },
  })
  assert.equal(staff.statusCode, 403)
  assert.match(staff.json().error, /reception/)

  const ok = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/presence',
    headers: { authorization: `Bearer ${deskToken}` },
  })
  assert.equal(ok.statusCode, 200)
  const visits = await db.selectFrom('visit').select('id').where('person_id', '=', amy.id).execute()
  assert.equal(visits.length, 4, 'Amy has four visit records today')
  const since = new Date(ctx.clock.now()).toISOString()
  assert.deepEqual(ok.json(), {
    count: 2,
    counts: { in: 1, unconfirmed: 1, visitors: 0, total: 2 },
    people: [
      {
        id: amy.id,
        firstName: 'Amy',
        lastName: 'Clark',
        group: 'in',
        since,
        lastActivity: since,
        confirmed: true,
        reason: null,
        tellApart: null,
      },
      {
        id: zoe.id,
        firstName: 'Zoe',
        lastName: 'Adams',
        group: 'unconfirmed',
        since: '2026-11-22T10:00:00.000Z',
        lastActivity: '2026-11-22T10:00:00.000Z',
        confirmed: false,
        reason: { kind: 'earlier-day', at: '2026-11-22T10:00:00.000Z', text: 'open since Sun 22 Nov 10:00' },
        tellApart: null,
      },
    ],
    visitors: [],
  })
})

/** Reads server-sent events from a real HTTP response until `until` matches, or times out. */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  until: (text: string) => boolean,
): Promise<string> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  const timeout = setTimeout(() => reader.cancel().catch(() => {}), 5000)
  try {
    while (!until(text)) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
  } finally {
    clearTimeout(timeout)
    reader.releaseLock()
  }
  return text
}

test('the event stream announces sign-ins and sign-outs as they happen', async (t) => {
  const ctx = await buildTestApp(t)
  // Other parts of the app (the presence API's cache) listen too; the board adds exactly one.
  const listenersBefore = ctx.app.ctx.events.listenerCount('change')
  const desk = await deskReceptionist(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const cookie = [...desk.browser.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  const abort = new AbortController()
  t.after(() => abort.abort())
  const response = await fetch(`http://127.0.0.1:${port}/reception/events`, {
    headers: { cookie, accept: 'text/event-stream' },
    signal: abort.signal,
  })
  assert.equal(response.status, 200)
  assert.match(String(response.headers.get('content-type')), /^text\/event-stream/)
  const stream = response.body!
  const [first, rest] = stream.tee()
  const hello = await readEvents(first, (s) => s.includes(': connected'))
  assert.match(hello, /retry: 5000/)
  first.cancel().catch(() => {})

  const signedIn = readEvents(rest, (s) => /event: presence\ndata: \{"at":\d+\}\n\n/.test(s))
  await tapSignIn(amy.browser)
  assert.match(await signedIn, /event: presence\ndata: \{"at":\d+\}/)
  const signedOut = readEvents(rest, (s) => s.includes('event: presence'))
  await tapSignOut(amy.browser)
  assert.match(await signedOut, /event: presence/)
  assert.equal(
    ctx.app.ctx.events.listenerCount('change'),
    listenersBefore + 1,
    'one open board, one listener',
  )
  abort.abort()
  await eventually(
    async () => ctx.app.ctx.events.listenerCount('change') === listenersBefore,
    'the stream to let go when the board closes',
  )
})

test('an open event stream ends at the next event once its device is revoked or its person loses the role', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const desk = await deskReceptionist(ctx)
  const door = await personWithRole(
    ctx,
    'door@example.org',
    { firstName: 'Dora', lastName: 'Door' },
    'reception',
  )
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const abort = new AbortController()
  t.after(() => abort.abort())
  const open = async (browser: TestBrowser) => {
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
    const response = await fetch(`http://127.0.0.1:${port}/reception/events`, {
      headers: { cookie, accept: 'text/event-stream' },
      signal: abort.signal,
    })
    assert.equal(response.status, 200)
    const body = response.body!
    await readEvents(body, (s) => s.includes(': connected'))
    return body
  }
  const demoted = await open(desk.browser)
  const revoked = await open(door.browser)
  await db.updateTable('person').set({ role: 'staff' }).where('id', '=', desk.id).execute()
  await db
    .updateTable('device')
    .set({ revoked_at: ctx.clock.now() })
    .where('person_id', '=', door.id)
    .execute()
  await tapSignIn(amy.browser)
  // Read to the end: a stream still open is cut by readEvents after 5 s, with what it sent.
  for (const body of [demoted, revoked]) {
    const rest = await readEvents(body, () => false)
    assert.doesNotMatch(rest, /event: presence/, 'nothing more is sent to someone no longer allowed')
  }
})

test('two marshals marking at the same time never lose a mark; the later mark of one person wins, keeping who', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const people = []
  for (let i = 0; i < 12; i++) {
    const p = await personWithRole(ctx, `p${i}@example.org`, {
      firstName: `Person${'ABCDEFGHIJKL'[i]}`,
      lastName: 'Test',
    })
    await tapSignIn(p.browser)
    people.push(p)
  }
  const { anna, ben } = await twoMarshals(ctx)
  await anna.browser.get('/reception')
  const started = await anna.browser.post('/reception/roll-calls', { kind: 'drill' })
  const url = String(started.headers.location)
  assert.match((await anna.browser.follow(started)).body, /Roll call started with 12 people on the list/)
  // Ben taps "start" too: he lands on the same roll call rather than a second one.
  await ben.browser.get('/reception')
  const again = await ben.browser.post('/reception/roll-calls', { kind: 'drill' })
  assert.equal(again.headers.location, url)
  await ben.browser.follow(again)

  // Anna marks the even ones safe while Ben marks the odd ones, all requests in flight at once;
  // Ben's marks go through the page's JSON path (the script), Anna's through plain forms.
  const marks = people.map((p, i) =>
    i % 2 === 0
      ? anna.browser.post(`${url}/marks`, { person: String(p.id), status: 'safe' })
      : ben.browser.request({
          method: 'POST',
          url: `${url}/marks`,
          payload: new URLSearchParams({
            _csrf: ben.browser.csrfToken(),
            person: String(p.id),
            status: i === 5 ? 'missing' : 'safe',
          }).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        }),
  )
  const results = await Promise.all(marks)
  for (const r of results) assert.ok(r.statusCode === 303 || r.statusCode === 200, String(r.statusCode))
  const json = results[1]!.json()
  assert.equal(json.ok, true)

  const rows = await db.selectFrom('roll_call_mark').selectAll().orderBy('person_id').execute()
  assert.equal(rows.length, 12, 'every mark is kept')
  for (const [i, p] of people.entries()) {
    const row = rows.find((r) => r.person_id === p.id)!
    assert.equal(row.marked_by, i % 2 === 0 ? anna.id : ben.id)
    assert.equal(row.status, i === 5 ? 'missing' : 'safe')
  }

  // Both mark person 5 at once: one row remains, holding whichever arrived last, with its marshal.
  ctx.clock.advance(1000)
  await Promise.all([
    anna.browser.post(`${url}/marks`, { person: String(people[5]!.id), status: 'safe' }),
    ben.browser.post(`${url}/marks`, { person: String(people[5]!.id), status: 'missing' }),
  ])
  const five = await db
    .selectFrom('roll_call_mark')
    .selectAll()
    .where('person_id', '=', people[5]!.id)
    .execute()
  assert.equal(five.length, 1)
  const audits = await db
    .selectFrom('audit_event')
    .select(['person_id', 'detail'])
    .where('action', '=', 'roll-call.marked')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirstOrThrow()
  assert.equal(five[0]!.marked_by, audits.person_id, 'the stored mark is the last one written')
  assert.equal(five[0]!.status, JSON.parse(audits.detail).status)

  // Each marshal's page shows the other's marks and the counts.
  const seenByAnna = await anna.browser.get(url)
  const safe = five[0]!.status === 'safe' ? 12 : 11
  assert.match(seenByAnna.body, new RegExp(`<span class="count">${safe}</span> safe`))
  assert.match(seenByAnna.body, new RegExp(`<span class="count">${12 - safe}</span> not accounted for`))
  assert.match(seenByAnna.body, /by Ben Marshal at/)
  assert.match((await ben.browser.get(url)).body, /by Anna Marshal at/)
})

test('a mark is announced to the other marshals over the event stream', async (t) => {
  const ctx = await buildTestApp(t)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await tapSignIn(amy.browser)
  const { anna, ben } = await twoMarshals(ctx)
  await anna.browser.get('/reception')
  const url = String(
    (await anna.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })).headers.location,
  )
  const id = Number(url.split('/').at(-1))
  await anna.browser.get(url)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const cookie = [...ben.browser.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  const abort = new AbortController()
  t.after(() => abort.abort())
  const response = await fetch(`http://127.0.0.1:${port}/reception/events`, {
    headers: { cookie },
    signal: abort.signal,
  })
  const body = response.body!
  const [connected, rest] = body.tee()
  await readEvents(connected, (s) => s.includes(': connected'))
  connected.cancel().catch(() => {})
  const marked = readEvents(rest, (s) => s.includes('event: roll-call'))
  await anna.browser.post(`${url}/marks`, { person: String(amy.id), status: 'safe' })
  assert.match(await marked, new RegExp(`event: roll-call\\ndata: \\{"id":${id}\\}`))
  abort.abort()
})

test('ending a roll call keeps its report in the audit trail, and the CSV matches the database', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const named = [
    ['Olga', 'Ng'],
    ['Zoë', 'Smith-Jones'],
    ['Lee', "O'Brien"],
  ] as const
  const people = []
  for (const [i, [firstName, lastName]] of named.entries()) {
    const p = await personWithRole(ctx, `n${i}@example.org`, { firstName, lastName })
    await tapSignIn(p.browser)
    people.push(p)
  }
  const anna = await personWithRole(
    ctx,
    'anna@example.org',
    { firstName: 'Anna', lastName: 'Marshal' },
    'reception',
  )
  await anna.browser.get('/reception')
  const url = String((await anna.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location)
  await anna.browser.get(url)
  ctx.clock.advance(30_000)
  await anna.browser.post(`${url}/marks`, { person: String(people[0]!.id), status: 'safe' })
  ctx.clock.advance(30_000)
  await anna.browser.post(`${url}/marks`, { person: String(people[2]!.id), status: 'missing' })
  await anna.browser.get(url)
  const ended = await anna.browser.post(`${url}/end`)
  assert.equal(ended.statusCode, 303)
  const report = await anna.browser.follow(ended)
  assert.match(report.body, /Roll call ended/)
  assert.doesNotMatch(report.body, /data-mark-form/, 'no more marking once ended')
  // A late mark (from a page loaded before the end) is refused with a message, never a 500.
  await anna.browser.get('/reception')
  const late = await anna.browser.post(`${url}/marks`, { person: String(people[1]!.id), status: 'safe' })
  assert.equal(late.statusCode, 303)
  assert.match((await anna.browser.follow(late)).body, /roll call has ended/)

  const csv = await anna.browser.get(`${url}/report.csv`)
  assert.equal(csv.statusCode, 200)
  assert.match(String(csv.headers['content-type']), /^text\/csv/)
  assert.match(String(csv.headers['content-disposition']), /attachment; filename="roll-call-\d+\.csv"/)

  const id = Number(url.split('/').at(-1))
  const rows = await db
    .selectFrom('roll_call_person as p')
    .leftJoin('roll_call_mark as m', (j) =>
      j.onRef('m.roll_call_id', '=', 'p.roll_call_id').onRef('m.person_id', '=', 'p.person_id'),
    )
    .leftJoin('person as k', 'k.id', 'm.marked_by')
    .select([
      'p.first_name',
      'p.last_name',
      'p.signed_in_at',
      'm.status',
      'm.marked_at',
      'k.first_name as kf',
      'k.last_name as kl',
    ])
    .where('p.roll_call_id', '=', id)
    .execute()
  assert.equal(rows.length, 3)
  const lines = csv.body.trim().split('\n')
  assert.equal(
    lines[0],
    'First name,Last name,Told apart by,Status,Marked by,Marked at,Signed in at,Last activity,Confirmed,Why unconfirmed,On list,Signed out at,Left before the alarm',
  )
  assert.equal(lines.length, 4)
  const local = (ms: number) => {
    const d = new Date(ms)
    // Europe/London in November is UTC+0.
    return `${d.toISOString().slice(0, 19)}Z`.replace('Z', '+00:00')
  }
  const expected = rows
    .map((r) => {
      const status = r.status === 'missing' ? 'missing' : r.status === 'safe' ? 'safe' : 'unaccounted'
      return [
        r.first_name,
        r.last_name,
        '',
        status,
        r.kf ? `${r.kf} ${r.kl}` : '',
        r.marked_at ? local(r.marked_at) : '',
        local(r.signed_in_at),
        local(r.signed_in_at),
        'yes',
        '',
        'yes',
        '',
        'no',
      ].join(',')
    })
    .sort()
  assert.deepEqual(lines.slice(1).sort(), expected)

  const audit = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'roll-call.ended')
    .executeTakeFirstOrThrow()
  assert.equal(audit.person_id, anna.id)
  const detail = JSON.parse(audit.detail)
  assert.deepEqual(detail.counts, {
    total: 3,
    accounted: 1,
    unaccounted: 2,
    missing: 1,
    help: 0,
    unmarked: 1,
  })
  assert.equal(detail.report.length, 3)
  const olga = detail.report.find((r: { firstName: string }) => r.firstName === 'Olga')
  assert.equal(olga.status, 'safe')
  assert.equal(olga.markedBy, 'Anna Marshal')

  const print = await anna.browser.get(`${url}/print`)
  assert.equal(print.statusCode, 200)
  assert.match(print.body, /class="print-table"/)
})

test('a broadcast reaches everyone inside through their verified contact and records each delivery', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  const pat = await personWithRole(ctx, '07400 123456', { firstName: 'Pat', lastName: 'Phone' })
  const olga = await personWithRole(ctx, 'olga@example.org', { firstName: 'Olga', lastName: 'Out' })
  const desk = await deskReceptionist(ctx)
  await tapSignIn(amy.browser)
  await tapSignIn(pat.browser)
  await tapSignIn(olga.browser)
  await tapSignOut(olga.browser)
  const before = ctx.outbox.length

  const form = await desk.browser.get('/reception/broadcasts/new?template=drill')
  assert.match(form.body, /This is a fire drill/, 'the template fills the message')
  assert.match(form.body, /name="askSafety" value="yes" checked/)
  const empty = await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: '  ',
  })
  assert.equal(empty.statusCode, 422)
  assert.match(empty.body, /Write the message to send/)
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'This is a fire drill. Leave by the nearest exit.',
    askSafety: 'yes',
  })
  assert.equal(sent.statusCode, 303)
  const id = Number(String(sent.headers.location).split('/').at(-1))
  await deliveriesFinished(ctx)

  const recipients = await db
    .selectFrom('broadcast_recipient')
    .selectAll()
    .where('broadcast_id', '=', id)
    .orderBy('person_id')
    .execute()
  assert.deepEqual(
    recipients.map((r) => [r.person_id, r.status, r.channel, r.contact_kind, r.contact_value]),
    [
      [amy.id, 'sent', 'console', 'email', 'amy@example.org'],
      [pat.id, 'sent', 'console', 'phone', '+447400123456'],
    ],
  )
  assert.ok(recipients.every((r) => r.sent_at !== null && r.error === null))
  const messages = ctx.outbox.slice(before).filter((l) => l.includes('(broadcast)'))
  assert.equal(messages.length, 2)
  assert.match(
    messages.find((l) => l.startsWith('message to amy@example.org '))!,
    /Fire drill .*Leave by the nearest exit.*I'm safe: http:\/\/register\.test\/b\/\S+/,
  )
  assert.match(
    messages.find((l) => l.startsWith('message to +447400123456 '))!,
    /I need help: http:\/\/register\.test\/b\/\S+/,
  )
  assert.ok(
    !ctx.outbox.slice(before).some((l) => l.startsWith('message to olga@example.org ')),
    'not to people outside',
  )

  const board = await desk.browser.get(`/reception/broadcasts/${id}`)
  assert.equal(board.statusCode, 200)
  assert.match(board.body, /<span class="count">2<\/span> sent/)
  assert.match(board.body, /<span class="count">0<\/span> failed/)
  assert.match(board.body, /a•+@example\.org/, 'contacts are masked')
  const audit = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'broadcast.created')
    .executeTakeFirstOrThrow()
  assert.equal(audit.person_id, desk.id)
  assert.equal(JSON.parse(audit.detail).recipients, 2)
})

test('a broadcast to everyone records who could not be reached, and can be retried', async (t) => {
  // A site that sends email only: a person with just a phone number cannot be reached.
  const ctx = await buildTestApp(t, {
    channels: () => [
      { ...consoleChannel({ info: (line: string) => outbox.push(line) }), kinds: ['email'] as const },
    ],
  })
  const outbox = ctx.outbox
  const { db } = ctx.app.ctx
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  // Pat verified a phone on a site that then switched SMS off.
  const pat = await personWithRole(ctx, 'pat@example.org', { firstName: 'Pat', lastName: 'Phone' })
  await db
    .updateTable('contact')
    .set({ kind: 'phone', value: '+447400123456' })
    .where('person_id', '=', pat.id)
    .execute()
  const desk = await personWithRole(ctx, 'desk@example.org', { firstName: 'Rita', lastName: 'Desk' }, 'admin')
  await desk.browser.get('/reception/broadcasts/new?template=closure')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'closure',
    audience: 'everyone',
    message: 'The building is closed today.',
  })
  const id = Number(String(sent.headers.location).split('/').at(-1))
  await eventually(async () => {
    const rows = await db
      .selectFrom('broadcast_recipient')
      .select('status')
      .where('broadcast_id', '=', id)
      .execute()
    return rows.length === 3 && rows.every((r) => r.status === 'sent' || r.status === 'failed')
  }, 'deliveries to finish')
  const rows = await db
    .selectFrom('broadcast_recipient')
    .selectAll()
    .where('broadcast_id', '=', id)
    .orderBy('person_id')
    .execute()
  assert.deepEqual(
    rows.map((r) => [r.person_id, r.status]),
    [
      [amy.id, 'sent'],
      [pat.id, 'failed'],
      [desk.id, 'sent'],
    ],
  )
  assert.match(rows[1]!.error!, /No verified contact we can send to/)
  const board = await desk.browser.get(`/reception/broadcasts/${id}`)
  assert.match(board.body, /<span class="count">1<\/span> failed/)
  assert.doesNotMatch(board.body, /I’m safe/, 'no safety answers asked for a closure')
  const retried = await desk.browser.post(`/reception/broadcasts/${id}/retry`)
  assert.match((await desk.browser.follow(retried)).body, /Trying 1 again/)
  await eventually(async () => {
    const row = await db
      .selectFrom('broadcast_recipient')
      .select('status')
      .where('person_id', '=', pat.id)
      .executeTakeFirstOrThrow()
    return row.status === 'failed'
  }, 'the retry to finish')
})

test('"I\'m safe" / "I need help" links: opening changes nothing, each answers once, and answers land on the roll call', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await tapSignIn(amy.browser)
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception')
  const rollCall = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })).headers.location,
  )
  const rollCallId = Number(rollCall.split('/').at(-1))
  await desk.browser.get('/reception/broadcasts/new?template=evacuation')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'evacuation',
    audience: 'inside',
    message: 'Leave the building now.',
    askSafety: 'yes',
  })
  const board = String(sent.headers.location)
  await eventually(
    async () => ctx.outbox.some((l) => l.startsWith('message to amy@example.org (broadcast)')),
    'the message',
  )
  const line = ctx.outbox.find((l) => l.startsWith('message to amy@example.org (broadcast)'))!
  const safe = /I'm safe: http:\/\/register\.test(\/b\/\S+)/.exec(line)![1]!
  const help = /I need help: http:\/\/register\.test(\/b\/\S+)/.exec(line)![1]!

  // Amy's phone is offline from the register: the link alone is enough.
  const phone = new TestBrowser(ctx.app, '198.51.100.9')
  const landing = await phone.get(safe)
  assert.equal(landing.statusCode, 200)
  assert.match(landing.body, /Hello Amy, tell reception:/)
  assert.equal(
    (await db.selectFrom('roll_call_mark').selectAll().execute()).length,
    0,
    'opening the link changes nothing',
  )

  const answered = await phone.post(safe, {}, false)
  assert.equal(answered.statusCode, 200)
  assert.match(answered.body, /Reception knows you are safe/)
  const mark = await db.selectFrom('roll_call_mark').selectAll().executeTakeFirstOrThrow()
  assert.deepEqual(
    [mark.roll_call_id, mark.person_id, mark.status, mark.via],
    [rollCallId, amy.id, 'safe', 'self'],
  )
  const page = await desk.browser.get(rollCall)
  assert.match(page.body, /<span class="count">1<\/span> safe/)
  assert.match(page.body, /said so themselves/)

  const again = await phone.post(safe, {}, false)
  assert.match(again.body, /We already have this answer/)
  const changed = await phone.post(help, {}, false)
  assert.match(changed.body, /Reception knows you need help/)
  const now = await db.selectFrom('roll_call_mark').selectAll().executeTakeFirstOrThrow()
  assert.equal(now.status, 'help')
  assert.match((await desk.browser.get(rollCall)).body, /1 need help/)
  assert.match((await desk.browser.get(board)).body, /NEEDS HELP/)
  assert.doesNotMatch((await desk.browser.get(board)).body, /href="tel:/, 'Amy has no phone number')
  await insertContact(db, { personId: amy.id, kind: 'phone', value: '+447400111222', at: ctx.clock.now() })
  assert.match(
    (await desk.browser.get(board)).body,
    /NEEDS HELP.*<a class="call" href="tel:\+447400111222">Call \+44 7400 111222<\/a>/,
    'who asked for help can be called in one tap',
  )
  assert.match(
    (await phone.post(safe, {}, false)).body,
    /We already have this answer/,
    'the safe link stays used',
  )

  const forged = `${safe.slice(0, -3)}${safe.endsWith('AAA') ? 'BBB' : 'AAA'}`
  assert.equal((await phone.get(forged)).statusCode, 404)
  assert.equal((await phone.post(forged, {}, false)).statusCode, 404)
  assert.equal((await phone.get('/b/not-a-token')).statusCode, 404)
  const answers = await db
    .selectFrom('audit_event')
    .select('action')
    .where('person_id', '=', amy.id)
    .where('action', 'like', '%answered%')
    .execute()
  assert.equal(answers.length, 2)
})

test('answers count on a roll call started just after the message, never on a later one; old links expire', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await tapSignIn(amy.browser)
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/broadcasts/new?template=drill')
  await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'Fire drill.',
    askSafety: 'yes',
  })
  await eventually(
    async () => ctx.outbox.some((l) => l.startsWith('message to amy@example.org (broadcast)')),
    'the message',
  )
  const line = ctx.outbox.find((l) => l.startsWith('message to amy@example.org (broadcast)'))!
  const safe = /I'm safe: http:\/\/register\.test(\/b\/\S+)/.exec(line)![1]!
  const help = /I need help: http:\/\/register\.test(\/b\/\S+)/.exec(line)![1]!
  const phone = new TestBrowser(ctx.app, '198.51.100.9')
  ctx.clock.advance(60_000)
  assert.match((await phone.post(safe, {}, false)).body, /Reception knows you are safe/)

  ctx.clock.advance(5 * 60_000)
  await desk.browser.get('/reception')
  const first = String((await desk.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location)
  const page = await desk.browser.get(first)
  assert.match(page.body, /<span class="count">1<\/span> safe/, 'the earlier answer is on the new roll call')
  assert.match(page.body, /said so themselves/)
  await desk.browser.post(`${first}/end`)

  // Next day, a real evacuation: yesterday's drill link must not speak for Amy today.
  ctx.clock.advance(24 * 60 * 60_000)
  await tapSignIn(amy.browser)
  await desk.browser.get('/reception')
  const second = String(
    (await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })).headers.location,
  )
  const secondId = Number(second.split('/').at(-1))
  assert.match((await phone.post(help, {}, false)).body, /Reception knows you need help/)
  const marks = await db
    .selectFrom('roll_call_mark')
    .selectAll()
    .where('roll_call_id', '=', secondId)
    .execute()
  assert.deepEqual(marks, [])
  assert.match((await desk.browser.get(second)).body, /<span class="count">0<\/span> safe/)

  ctx.clock.advance(8 * 24 * 60 * 60_000)
  const old = await phone.get(safe)
  assert.equal(old.statusCode, 410)
  assert.match(old.body, /too old to answer/)
})

test('the delivery board shows what the provider reported: a text marked delivered by a Twilio callback', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const env = twilio.env()
  let ctx: TestApp | undefined
  ctx = await buildTestApp(t, {
    env,
    // Texts through Twilio's API (the fake), emails to the console so people can log in.
    channels: async (log) => [
      ...(await channelsFromConfig(testConfig(env), log)),
      consoleChannel({ info: (line: string) => ctx!.outbox.push(line) }),
    ],
  })
  const { db } = ctx.app.ctx
  const pat = await personWithRole(ctx, 'pat@example.org', { firstName: 'Pat', lastName: 'Phone' })
  await insertContact(db, { personId: pat.id, kind: 'phone', value: '+447400123456', at: ctx.clock.now() })
  const desk = await deskReceptionist(ctx)
  await tapSignIn(pat.browser)

  await desk.browser.get('/reception/broadcasts/new?template=drill')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'This is a fire drill.',
    askSafety: 'yes',
  })
  const id = Number(String(sent.headers.location).split('/').at(-1))
  await eventually(async () => twilio.messages.length === 1, 'the text to reach Twilio')
  const recipientRow = () =>
    db.selectFrom('broadcast_recipient').selectAll().where('broadcast_id', '=', id).executeTakeFirstOrThrow()
  await eventually(async () => (await recipientRow()).status === 'sent', 'the send to be recorded')
  const recipient = await recipientRow()
  assert.equal(recipient.channel, 'twilio')
  assert.match((await desk.browser.get(`/reception/broadcasts/${id}`)).body, /<strong>sent<\/strong>/)

  const callback = await ctx.app.inject(twilio.statusCallback(recipient.provider_id!, 'delivered'))
  assert.equal(callback.statusCode, 204)
  const board = await desk.browser.get(`/reception/broadcasts/${id}`)
  assert.match(board.body, /<strong>delivered<\/strong>/)
})

/** Rita at the reception desk (with an API token for the presence API) and Amy, a member of staff. */
async function deskWithApiTokenAndAmy(ctx: TestApp) {
  const desk = await deskReceptionist(ctx)
  const deskToken = await apiToken(ctx, 'desk@example.org')
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  return { desk, deskToken, amy }
}

test('the presence API answer is reused between changes but never stale after a sign-in or sign-out', async (t) => {
  const ctx = await buildTestApp(t)
  const { desk, deskToken, amy } = await deskWithApiTokenAndAmy(ctx)
  const presence = async () =>
    (
      await ctx.app.inject({
        method: 'GET',
        url: '/api/v1/presence',
        headers: { authorization: `Bearer ${deskToken}` },
      })
    ).json() as { count: number; people: { firstName: string }[] }
  await tapSignIn(desk.browser)
  assert.equal((await presence()).count, 1)
  await tapSignIn(amy.browser)
  const after = await presence()
  assert.equal(after.count, 2, 'the sign-in invalidated the cached answer at once')
  assert.deepEqual(
    after.people.map((p) => p.firstName),
    ['Amy', 'Rita'],
  )
  await tapSignOut(amy.browser)
  assert.equal((await presence()).count, 1)
})

test('the presence API is gzipped for clients that ask, and answers 304 while nothing has changed', async (t) => {
  const ctx = await buildTestApp(t)
  const { desk, deskToken, amy } = await deskWithApiTokenAndAmy(ctx)
  await tapSignIn(desk.browser)
  const get = (headers: Record<string, string> = {}) =>
    ctx.app.inject({
      method: 'GET',
      url: '/api/v1/presence',
      headers: { authorization: `Bearer ${deskToken}`, ...headers },
    })
  const plain = await get()
  assert.equal(plain.statusCode, 200)
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.match(String(plain.headers['cache-control']), /no-cache/)
  const zipped = await get({ 'accept-encoding': 'br;q=1, gzip;q=0.8' })
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.equal(zipped.headers.vary, 'accept-encoding')
  assert.deepEqual(JSON.parse(gunzipSync(zipped.rawPayload).toString()), plain.json())

  const etag = String(plain.headers.etag)
  assert.match(etag, /^"[A-Za-z0-9_-]+"$/)
  const unchanged = await get({ 'if-none-match': etag })
  assert.equal(unchanged.statusCode, 304)
  assert.equal(unchanged.body, '')
  await tapSignIn(amy.browser)
  const changed = await get({ 'if-none-match': etag })
  assert.equal(changed.statusCode, 200, 'a sign-in changes the answer, so the old tag no longer matches')
  assert.notEqual(changed.headers.etag, etag)
  assert.equal(changed.json().count, 2)
})

test('"Start real evacuation" asks to confirm: one tap starts nothing, the confirmation starts it', async (t) => {
  const ctx = await buildTestApp(t)
  const desk = await deskReceptionist(ctx)
  const countRollCalls = async () =>
    (await ctx.app.ctx.db.selectFrom('roll_call').select('id').execute()).length
  await desk.browser.get('/reception')
  const asked = await desk.browser.post('/reception/roll-calls', { kind: 'real' })
  assert.equal(asked.statusCode, 200)
  assert.match(asked.body, /Start a real evacuation roll call\?/)
  assert.match(asked.body, /name="confirm" value="yes"/)
  assert.match(asked.body, /href="\/reception">Cancel</)
  assert.equal(await countRollCalls(), 0, 'one tap starts nothing')

  const started = await desk.browser.post('/reception/roll-calls', { kind: 'real', confirm: 'yes' })
  assert.equal(started.statusCode, 303)
  assert.equal(await countRollCalls(), 1)
  const kind = await ctx.app.ctx.db.selectFrom('roll_call').select('kind').executeTakeFirstOrThrow()
  assert.equal(kind.kind, 'real')
  // A drill stays one tap: it alarms nobody.
  await desk.browser.get('/reception')
  const again = await desk.browser.post('/reception/roll-calls', { kind: 'real' })
  assert.equal(again.statusCode, 303, 'while one runs, asking again opens the running one')
  assert.equal(again.headers.location, String(started.headers.location))

  // Its report is an evacuation's, not a drill's, wherever it is named.
  const url = String(started.headers.location)
  await desk.browser.get(url)
  await desk.browser.post(`${url}/end`, {})
  for (const page of [url, '/reception/roll-calls']) {
    const body = (await desk.browser.get(page)).body
    assert.match(body, new RegExp(`href="${url}/report">Evacuation report<`), page)
    assert.doesNotMatch(body, /Drill report/, page)
  }
  assert.match((await desk.browser.get(`${url}/report`)).body, /<title>Evacuation report/)
})

test('presence requests that find the answer out of date together get one answer; a change meanwhile still shows next', async (t) => {
  const ctx = await buildTestApp(t)
  const { desk, deskToken, amy } = await deskWithApiTokenAndAmy(ctx)
  const get = () =>
    ctx.app.inject({
      method: 'GET',
      url: '/api/v1/presence',
      headers: { authorization: `Bearer ${deskToken}` },
    })
  await tapSignIn(desk.browser)
  await get()
  // The sign-in drops the built answer: the screens asking together all wait on one new build.
  await tapSignIn(amy.browser)
  const together = await Promise.all([get(), get(), get(), get(), get()])
  assert.deepEqual(
    together.map((r) => [r.statusCode, r.json().count]),
    together.map(() => [200, 2]),
  )
  assert.equal(new Set(together.map((r) => r.headers.etag)).size, 1)
  // A sign-out racing a build: whichever finishes first, the next answer has Amy out.
  await Promise.all([get(), tapSignOut(amy.browser), get()])
  assert.equal((await get()).json().count, 1)
})

test('with one person inside, the roll call and the broadcast count them in the singular', async (t) => {
  const ctx = await buildTestApp(t)
  const staff = await personWithRole(ctx, 'staff@example.org', { firstName: 'Sam', lastName: 'Staff' })
  const desk = await deskReceptionist(ctx)
  await tapSignIn(staff.browser)
  await desk.browser.get('/reception')
  const started = await desk.browser.post('/reception/roll-calls', { kind: 'drill' })
  assert.match((await desk.browser.follow(started)).body, /Roll call started with 1 person on the list\./)
  await desk.browser.get('/reception/broadcasts/new')
  const sent = await desk.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'Drill now.',
  })
  assert.match((await desk.browser.follow(sent)).body, /<p class="small">1 recipient[ <]/)
})
