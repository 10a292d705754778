import assert from 'node:assert/strict'
import { test } from 'node:test'
import ExcelJS from 'exceljs'
import { createIntegrationToken } from '../identity/integration-token.service.js'
import { cliContext } from '../identity/roles.service.js'
import { buildTestApp, loginAs, type TestApp } from '../testing/build-test-app.js'
import { makePerson, makeVisit } from '../testing/factories.js'
import { kioskAdmin, pairedKiosk } from '../testing/kiosk.js'
import { personIdOf } from '../testing/roles.js'
import { parseDateRange } from './date-range.js'
import { buildStats, visitExportRows } from './reports.service.js'

/** A small RFC 4180 reader for the test: quoted fields, doubled quotes, CRLF or LF. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"'
        i++
      } else if (c === '"') quoted = false
      else field += c
    } else if (c === '"') quoted = true
    else if (c === ',') {
      row.push(field)
      field = ''
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++
      row.push(field)
      rows.push(row)
      row = []
      field = ''
    } else field += c
  }
  if (field !== '' || row.length) rows.push([...row, field])
  return rows
}

/**
 * Europe/London fixtures: 2026-03-29 (clocks go forward at 01:00 GMT) and 2026-10-25 (back at
 * 02:00 BST), a visit across midnight, an auto-closed visit, an open one, one closed by an admin,
 * and visits just outside the range on both sides.
 */
async function seed(ctx: TestApp) {
  const { db } = ctx.app.ctx
  const ann = await makePerson(db, { firstName: 'Ann', lastName: 'Archer', email: 'ann@example.org' })
  const ben = await makePerson(db, { firstName: 'Ben', lastName: 'Baker', email: 'ben@example.org' })
  const cat = await makePerson(db, { firstName: '=Cat', lastName: 'Cole, Jr', email: 'cat@example.org' })
  await makeVisit(db, ann, { in: '2026-03-25T23:30:00Z', out: '2026-03-25T23:50:00Z' }) // 25 Mar local: outside
  await makeVisit(db, ben, { in: '2026-03-26T09:00:00Z', out: '2026-03-26T23:59:59.999Z', closedBy: 'auto' })
  await makeVisit(db, ann, { in: '2026-03-27T22:00:00Z', out: '2026-03-28T02:00:00Z' }) // across midnight
  await makeVisit(db, ann, { in: '2026-03-29T00:30:00Z', out: '2026-03-29T02:30:00Z' }) // 00:30 GMT → 03:30 BST
  await makeVisit(db, ben, { in: '2026-03-30T07:00:00Z' }) // open, 08:00 BST, never closed
  await makeVisit(db, cat, { in: '2026-06-01T08:00:00Z', out: '2026-06-01T16:00:00Z', closedBy: 'admin' })
  await makeVisit(db, ann, { in: '2026-10-24T23:30:00Z', out: '2026-10-25T01:30:00Z' }) // 00:30 BST on the 25th → 01:30 GMT
  await makeVisit(db, cat, { in: '2026-10-25T23:30:00Z', out: '2026-10-25T23:45:00Z' }) // 23:30 GMT on the 25th: inside
  await makeVisit(db, cat, { in: '2026-10-26T00:30:00Z', out: '2026-10-26T01:00:00Z' }) // 26 Oct local: outside
  return { ann, ben, cat }
}

const expectedVisits = [
  ['Ben', '2026-03-26', '2026-03-26 09:00', '2026-03-26 23:59', '900', 'auto-closed'],
  ['Ann', '2026-03-27', '2026-03-27 22:00', '2026-03-28 02:00', '240', 'signed-out'],
  ['Ann', '2026-03-29', '2026-03-29 00:30', '2026-03-29 03:30', '120', 'signed-out'],
  ['Ben', '2026-03-30', '2026-03-30 08:00', '', '', 'open'],
  ['=Cat', '2026-06-01', '2026-06-01 09:00', '2026-06-01 17:00', '480', 'closed-by-admin'],
  ['Ann', '2026-10-25', '2026-10-25 00:30', '2026-10-25 01:30', '120', 'signed-out'],
  ['=Cat', '2026-10-25', '2026-10-25 23:30', '2026-10-25 23:45', '15', 'signed-out'],
]
const range = 'from=2026-03-26&to=2026-10-25'

async function adminBrowser(ctx: TestApp) {
  return loginAs(ctx, 'admin@example.org', { firstName: 'Ada', lastName: 'Admin' })
}

test('the CSV export matches the database across midnight, DST days, open and auto-closed visits', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  await seed(ctx)
  const admin = await adminBrowser(ctx)
  const response = await admin.get(`/admin/export?report=visits&format=csv&${range}`)
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /^text\/csv/)
  assert.match(String(response.headers['content-disposition']), /visits-2026-03-26-to-2026-10-25\.csv/)
  const [header, ...rows] = parseCsv(response.body)
  assert.deepEqual(header, [
    'visit_id',
    'person_id',
    'first_name',
    'last_name',
    'date',
    'signed_in',
    'signed_out',
    'minutes',
    'status',
    'signed_in_utc',
    'signed_out_utc',
  ])
  assert.deepEqual(
    rows.map((r) => [r[2]!.replace(/^'/, ''), r[4], r[5], r[6], r[7], r[8]]),
    expectedVisits,
  )
  assert.equal(rows[4]![2], "'=Cat", 'a name that looks like a formula is neutralised')
  assert.equal(rows[4]![3], 'Cole, Jr')
  assert.equal(rows[1]![9], '2026-03-27T22:00:00.000Z')
})

test('the XLSX export streams a workbook that reads back with the same rows', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  await seed(ctx)
  const admin = await adminBrowser(ctx)
  const response = await admin.request({
    method: 'GET',
    url: `/admin/export?report=visits&format=xlsx&${range}`,
  })
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-type']), /spreadsheetml/)
  const workbook = new ExcelJS.Workbook()
  await workbook.xlsx.load(response.rawPayload as unknown as ArrayBuffer)
  const sheet = workbook.getWorksheet('Visits')!
  const values: string[][] = []
  sheet.eachRow((row) => {
    values.push(
      Array.from((row.values as unknown[]).slice(1), (v) => (v === null || v === undefined ? '' : String(v))),
    )
  })
  assert.equal(values[0]![8], 'status')
  assert.deepEqual(
    values.slice(1).map((r) => [r[2], r[4], r[5], r[6], r[7], r[8]]),
    expectedVisits,
  )

  const summary = await admin.request({
    method: 'GET',
    url: `/admin/export?report=summary&format=xlsx&${range}`,
  })
  const book = new ExcelJS.Workbook()
  await book.xlsx.load(summary.rawPayload as unknown as ArrayBuffer)
  const lines: unknown[][] = []
  book.getWorksheet('Summary')!.eachRow((row) => {
    lines.push((row.values as unknown[]).slice(1))
  })
  assert.deepEqual(
    lines.slice(1).map((r) => r.slice(2)),
    [
      ['Archer', 3, 0, 0],
      ['Baker', 2, 2, 100],
      ['Cole, Jr', 2, 0, 0],
    ],
  )
})

test('statistics count people per local day, average known stays, and fill the heatmap', async (t) => {
  const ctx = await buildTestApp(t)
  await seed(ctx)
  const { db } = ctx.app.ctx
  const site = { timeZone: 'Europe/London', now: ctx.clock.now() }
  const stats = await buildStats(db, parseDateRange({ from: '2026-03-26', to: '2026-10-25' }, site), site)
  assert.equal(stats.days.length, 214)
  const day = (d: string) => stats.days.find((x) => x.day === d)!
  assert.equal(day('2026-03-26').visitors, 1)
  assert.equal(day('2026-03-26').notSignedOut, 1)
  assert.equal(day('2026-03-26').averageStayMinutes, null, 'an auto-closed stay is not a known stay')
  assert.equal(day('2026-03-28').visitors, 0, 'a visit across midnight belongs to the day it started')
  assert.equal(day('2026-10-25').visitors, 2)
  assert.equal(day('2026-10-25').averageStayMinutes, Math.round((120 + 15) / 2))
  assert.deepEqual(stats.totals, {
    visits: 7,
    visitors: 3,
    averageStayMinutes: Math.round((240 + 120 + 480 + 120 + 15) / 5),
  })
  const per = (weekday: number, n: number) =>
    Math.round((n / stats.days.filter((d) => d.weekday === weekday).length) * 10) / 10
  // Sunday 29 March 00:30 GMT → 03:30 BST: local hours 00, 02, 03 (01:00–02:00 never happened).
  // Sunday 25 October 00:30 BST → 01:30 GMT: local hours 00, then 01 twice (it happened twice).
  assert.deepEqual(stats.heatmap[6]!.slice(0, 5), [per(6, 2), per(6, 2), per(6, 1), per(6, 1), 0])
  assert.equal(stats.heatmap[6]![23], per(6, 1))
  // Monday: the forgotten open visit counts only in its sign-in hour; the admin-closed one 09–17.
  assert.equal(stats.heatmap[0]![8], per(0, 1))
  assert.equal(stats.heatmap[0]![9], per(0, 1))
  assert.equal(stats.heatmap[0]![16], per(0, 1))
  assert.equal(stats.heatmap[0]![17], 0)
  // Thursday: the auto-closed visit counts only at 09.
  assert.equal(stats.heatmap[3]![9], per(3, 1))
  assert.equal(stats.heatmap[3]![10], 0)
})

test('the statistics page renders accessible SVG charts with table alternatives', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  await seed(ctx)
  const admin = await adminBrowser(ctx)
  const page = await admin.get(`/admin/stats?${range}`)
  assert.equal(page.statusCode, 200)
  assert.match(
    page.body,
    /<svg class="chart"[^>]*role="img"[^>]*aria-labelledby="chart-daily chart-daily-desc"/,
  )
  // Staff, counted once a day each: "Visitors" is what the kiosk signs in, and they are not in it.
  assert.match(page.body, /<title id="chart-daily">Staff in the building per day<\/title>/)
  assert.match(page.body, /<title id="chart-heatmap">Busiest days and hours<\/title>/)
  assert.match(page.body, /<summary>Staff in the building per day as a table<\/summary>/)
  assert.match(page.body, /<th scope="col">Staff in<\/th>/)
  assert.doesNotMatch(page.body, /Visitors per day/)
  assert.match(page.body, /<strong>3<\/strong> people made <strong>7<\/strong> visits/)
  assert.match(page.body, /Baker<\/a><\/td><td[^>]*>2<\/td><td[^>]*>2<\/td><td[^>]*>100<\/td>/)
})

test('GET /api/v1/visits answers JSON or CSV by Accept, for admins and admin integration tokens', async (t) => {
  const ctx = await buildTestApp(t)
  await seed(ctx)
  const { token } = await createIntegrationToken(
    ctx.app.ctx.db,
    { personId: null, at: ctx.clock.now(), context: cliContext('test') },
    { name: 'HR export', role: 'admin' },
  )
  const json = await ctx.app.inject({
    method: 'GET',
    url: `/api/v1/visits?${range}`,
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(json.statusCode, 200)
  const body = json.json()
  assert.equal(body.from, '2026-03-26')
  assert.deepEqual(
    body.visits.map((v: { firstName: string; date: string; status: string; minutes: number | null }) => [
      v.firstName,
      v.date,
      v.minutes === null ? '' : String(v.minutes),
      v.status,
    ]),
    expectedVisits.map((r) => [r[0], r[1], r[4], r[5]]),
  )
  assert.equal(body.visits[3].signedOutAt, null)

  const csv = await ctx.app.inject({
    method: 'GET',
    url: `/api/v1/visits?${range}`,
    headers: { authorization: `Bearer ${token}`, accept: 'text/csv' },
  })
  assert.match(String(csv.headers['content-type']), /^text\/csv/)
  const csvRows = parseCsv(csv.body)
  assert.equal(csvRows.length, 1 + expectedVisits.length)
  assert.deepEqual(
    csvRows.slice(1).map((r) => [r[2], r[4], r[5], r[6], r[7], r[8]]),
    expectedVisits.map(([first, ...rest]) => [first!.startsWith('=') ? `'${first}` : first, ...rest]),
    'the API streams the same CSV rows as the admin export, formula guard included',
  )

  const bad = await ctx.app.inject({
    method: 'GET',
    url: '/api/v1/visits?from=2026-13-01',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(bad.statusCode, 400)
  assert.match(bad.json().error, /must look like 2026-11-23|does not exist/)
})

test('a year of a large office exports page by page', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  const { db } = ctx.app.ctx
  const people: number[] = []
  for (let i = 0; i < 30; i++) {
    people.push(await makePerson(db, { firstName: 'P', lastName: `N${i}`, email: `p${i}@example.org` }))
  }
  const start = Date.parse('2026-01-05T09:00:00Z')
  const rows = []
  for (let d = 0; d < 180; d++) {
    for (const id of people) {
      rows.push({
        person_id: id,
        signed_in_at: start + d * 86_400_000,
        signed_out_at: start + d * 86_400_000 + 3_600_000,
        closed_by: 'person' as const,
      })
    }
  }
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('visit')
      .values(rows.slice(i, i + 500))
      .execute()
  const admin = await adminBrowser(ctx)
  const response = await admin.get('/admin/export?report=visits&format=csv&from=2026-01-01&to=2026-12-31')
  assert.equal(response.statusCode, 200)
  // Many pages (500 rows each, boundaries inside runs of equal sign-in times), none lost or repeated.
  const ids = parseCsv(response.body)
    .slice(1)
    .map((r) => r[0])
  assert.equal(ids.length, rows.length)
  assert.equal(new Set(ids).size, rows.length)
  assert.equal(await personIdOf(ctx, 'p0@example.org'), people[0])
})

test('the visitors export lists visitors in the range, marked as visitors, with host, kiosk and how they left; no contacts', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const zoe = await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: 'zoe@example.org' })
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin, 'Main entrance')
  ctx.clock.set('2026-11-23T08:30:00Z')
  await tablet.api('GET', '/kiosk/api/state')
  const vera = (
    await tablet.api('POST', '/kiosk/api/visitors', {
      name: '=Vera Visitor',
      company: 'Acme, Ltd',
      hostId: zoe,
      phone: '07400 123456',
    })
  ).json().visitorId
  ctx.clock.set('2026-11-23T10:00:00Z')
  await tablet.api('POST', `/kiosk/api/visitors/${vera}/sign-out`, {})
  await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Olly Offline',
    company: '',
    hostText: 'nobody here',
    key: 'k1',
    at: ctx.clock.now() - 20 * 60_000,
    sentAt: ctx.clock.now(),
  })
  ctx.clock.set('2026-11-25T09:00:00Z')
  await tablet.api('POST', '/kiosk/api/visitors', { name: 'Late Larry', company: 'Later', hostId: zoe })

  const response = await admin.get('/admin/export?report=visitors&format=csv&from=2026-11-23&to=2026-11-24')
  assert.equal(response.statusCode, 200)
  assert.match(String(response.headers['content-disposition']), /visitors-2026-11-23-to-2026-11-24\.csv/)
  const [header, ...rows] = parseCsv(response.body)
  assert.deepEqual(header, [
    'kind',
    'visitor_id',
    'name',
    'company',
    'host',
    'signed_in_via',
    'kiosk',
    'date',
    'signed_in',
    'signed_out',
    'minutes',
    'status',
    'site_notice_version',
    'signed_in_utc',
    'signed_out_utc',
  ])
  assert.deepEqual(
    rows.map((r) => [r[0], r[2], r[3], r[4], r[5], r[6], r[8], r[9], r[10], r[11]]),
    [
      [
        'visitor',
        "'=Vera Visitor",
        'Acme, Ltd',
        'Zoë Hôst',
        'kiosk',
        'Main entrance',
        '2026-11-23 08:30',
        '2026-11-23 10:00',
        '90',
        'signed-out',
      ],
      [
        'visitor',
        'Olly Offline',
        '',
        'nobody here (as typed)',
        'kiosk',
        'Main entrance',
        '2026-11-23 09:40',
        '',
        '',
        'open',
      ],
    ],
  )
  assert.doesNotMatch(response.body, /7400|@/, 'no contact details')
  assert.match(
    (await admin.get('/admin/stats')).body,
    /report=visitors&amp;format=csv|report=visitors&format=csv/,
  )

  const xlsx = await admin.request({
    method: 'GET',
    url: '/admin/export?report=visitors&format=xlsx&from=2026-11-25&to=2026-11-25',
  })
  const book = new ExcelJS.Workbook()
  await book.xlsx.load(xlsx.rawPayload as unknown as ArrayBuffer)
  const names: unknown[] = []
  book.getWorksheet('Visitors')!.eachRow((row) => {
    names.push((row.values as unknown[])[3])
  })
  assert.deepEqual(names, ['name', 'Late Larry'])
})

test('a visit the directory closed is reported as closed by it, and not as a known stay', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const lee = await makePerson(db, { firstName: 'Lee', lastName: 'Ver', email: 'lee@example.org' })
  await makeVisit(db, lee, { in: '2026-06-02T08:00:00Z', out: '2026-06-02T13:00:00Z', closedBy: 'directory' })
  const site = { timeZone: 'Europe/London', now: ctx.clock.now() }
  const range = parseDateRange({ from: '2026-06-02', to: '2026-06-02' }, site)
  const rows = []
  for await (const row of visitExportRows(db, range, site)) rows.push(row)
  assert.deepEqual(
    rows.map((r) => [r.firstName, r.status, r.minutes]),
    [['Lee', 'closed-by-directory', 300]],
  )
  const stats = await buildStats(db, range, site)
  assert.equal(stats.days[0]!.notSignedOut, 1, 'a leaver did not sign out')
  assert.equal(stats.days[0]!.averageStayMinutes, null, 'nobody knows when they left')
})

test('the statistics page says one person and one visit in the singular', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  const ann = await makePerson(ctx.app.ctx.db, {
    firstName: 'Ann',
    lastName: 'Archer',
    email: 'ann@example.org',
  })
  await makeVisit(ctx.app.ctx.db, ann, { in: '2026-03-26T09:00:00Z', out: '2026-03-26T10:00:00Z' })
  const page = await (await adminBrowser(ctx)).get(`/admin/stats?${range}`)
  assert.match(page.body, /<strong>1<\/strong> person made <strong>1<\/strong> visit from/)
})
