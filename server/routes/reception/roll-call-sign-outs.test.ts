import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../testing/build-test-app.js'
import { kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import {
  deskReceptionist,
  personWithRole,
  sendSavedTap,
  tapSignIn,
  tapSignOut,
} from '../../testing/reception.js'
import { visitorLink } from '../../visitors/visitor-links.js'

// Europe/London is UTC in November: the times below are the site's own.
const at = (time: string) => Date.parse(`2026-11-24T${time}:00Z`)

/** The HTML of a group on the roll call page, from its heading to the next one. */
function group(html: string, id: string): string {
  const start = html.indexOf(`<h2 id="${id}">`)
  if (start < 0) return ''
  const next = html.indexOf('<h2', start + 1)
  return html.slice(start, next < 0 ? undefined : next)
}

test('the marshal page, the printed list, the report and the CSV show sign-outs that reached a roll call, with counts that agree', async (t) => {
  const ctx = await buildTestApp(t)
  ctx.clock.set('2026-11-24T08:00:00Z')
  const desk = await deskReceptionist(ctx)
  const people: Record<string, Awaited<ReturnType<typeof personWithRole>>> = {}
  for (const name of ['Amy', 'Ben', 'Cat']) {
    people[name] = await personWithRole(ctx, `${name.toLowerCase()}@example.org`, {
      firstName: name,
      lastName: 'Test',
    })
    await tapSignIn(people[name]!.browser)
  }

  ctx.clock.set('2026-11-24T09:30:00Z')
  await desk.browser.get('/reception')
  const url = String((await desk.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location)
  const page = async () => (await desk.browser.get(url)).body
  assert.match(await page(), /<span class="count">3<\/span> not accounted for/)

  // Cat tapped out at 09:15 with no signal; her phone sends it at 09:40. Reception signs Ben out
  // from the board at 09:41.
  ctx.clock.set('2026-11-24T09:40:00Z')
  const sent = await sendSavedTap(people.Cat!.browser, {
    action: 'sign-out',
    at: at('09:15'),
    sentAt: at('09:40'),
    key: 'cat-0915',
  })
  assert.equal(sent.json().applied, true, sent.json().message)
  ctx.clock.set('2026-11-24T09:41:00Z')
  await desk.browser.get('/reception')
  const out = await desk.browser.post(`/reception/people/${people.Ben!.id}/sign-out`)
  assert.equal(out.statusCode, 303)

  let html = await page()
  assert.match(
    group(html, 'left'),
    /Cat Test[\s\S]*Left before the alarm — signed out 09:15, reached the server late/,
    'Cat has a line of her own, kept',
  )
  assert.doesNotMatch(group(html, 'in'), /Cat Test/)
  assert.match(group(html, 'in'), /Ben Test[\s\S]*Signed out at 09:41, during the alarm/)
  assert.match(html, /<span class="count">0<\/span> safe/)
  assert.match(html, /<span class="count">2<\/span> not accounted for/, 'Amy and Ben; not Cat')
  assert.match(html, /2 on the list: <a href="#in">2 in<\/a>/)
  assert.match(html, /<a href="#left">1 left before the alarm<\/a>/)
  assert.match(group(html, 'left'), /data-mark-form/, 'a marshal can still mark her (missing counts)')

  // The marshal confirms Ben at the assembly point: the JSON answer's counts agree with the page.
  const marked = await desk.browser.request({
    method: 'POST',
    url: `${url}/marks`,
    payload: new URLSearchParams({
      _csrf: desk.browser.csrfToken(),
      person: String(people.Ben!.id),
      status: 'safe',
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  })
  assert.equal(marked.statusCode, 200)
  assert.deepEqual(
    [marked.json().counts.total, marked.json().counts.accounted, marked.json().counts.unaccounted],
    [2, 1, 1],
  )
  html = await page()
  assert.match(html, /<span class="count">1<\/span> safe/)
  assert.match(html, /<span class="count">1<\/span> not accounted for/)

  const print = (await desk.browser.get(`${url}/print`)).body
  assert.match(
    print,
    /2 on the list · 1 safe · 1 not accounted for · 1 left before the alarm \(not counted\)/,
  )
  assert.match(
    print,
    /Cat Test<\/td>[\s\S]*?Left before the alarm — signed out 09:15, reached the server late/,
  )
  assert.match(print, /Ben Test<\/td>[\s\S]*?Signed out at 09:41, during the alarm/)

  ctx.clock.set('2026-11-24T10:00:00Z')
  await desk.browser.get(url)
  assert.equal((await desk.browser.post(`${url}/end`)).statusCode, 303)
  const report = (await desk.browser.get(`${url}/report`)).body
  assert.match(
    report,
    /<dd>2 \(2 in, 0 unconfirmed, 0 visitors\), and 1 who left before the alarm \(not counted\)<\/dd>/,
  )
  assert.match(report, /Never accounted for \(1\)[\s\S]*Amy Test/)
  assert.match(
    report,
    /Left before the alarm \(1\)[\s\S]*Cat Test[\s\S]*signed out 09:15, reached the server late/,
  )
  const csv = (await desk.browser.get(`${url}/report.csv`)).body.trim().split('\n')
  assert.match(csv[0]!, /,On list,Signed out at,Left before the alarm$/)
  const row = (name: string) => csv.find((l) => l.startsWith(`${name},`))!
  assert.match(row('Amy'), /,yes,,no$/)
  assert.match(row('Ben'), /^Ben,Test,,safe,Rita Desk,.*,yes,2026-11-24T09:41:00\+00:00,no$/)
  assert.match(row('Cat'), /^Cat,Test,,unaccounted,.*,yes,2026-11-24T09:15:00\+00:00,yes$/)

  // Ben's tap at the door after the end changes nothing on the ended roll call.
  await tapSignIn(people.Ben!.browser)
  await tapSignOut(people.Ben!.browser)
  assert.match(group(await page(), 'in'), /Signed out at 09:41, during the alarm/)
})

test("visitors' sign-outs during a roll call show on their lines, on the page, the printed list, the report and the CSV, with counts that agree (kiosk, reception, link, badge)", async (t) => {
  const ctx = await buildTestApp(t)
  const { keys } = ctx.app.ctx
  ctx.clock.set('2026-11-24T08:00:00Z')
  const desk = await deskReceptionist(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Test' })
  await tapSignIn(amy.browser)
  const tablet = await pairedKiosk(ctx, await kioskAdmin(ctx))
  const visitor: Record<string, number> = {}
  for (const name of ['Val Early', 'Vic Desk', 'Vin Link', 'Wes Badge']) {
    const signedIn = await tablet.api('POST', '/kiosk/api/visitors', { name, hostId: amy.id })
    assert.equal(signedIn.statusCode, 201, signedIn.body)
    visitor[name] = signedIn.json().visitorId
  }
  const link = (name: string) => visitorLink(keys.links, ctx.config.PUBLIC_URL, visitor[name]!, 'out')

  ctx.clock.set('2026-11-24T09:30:00Z')
  await desk.browser.get('/reception')
  const url = String((await desk.browser.post('/reception/roll-calls', { kind: 'drill' })).headers.location)
  const page = async () => (await desk.browser.get(url)).body
  assert.match(await page(), /<span class="count">5<\/span> not accounted for/)

  // 09:40: the kiosk, which had lost its network, sends Val's sign-out made at 09:15 by its clock.
  ctx.clock.set('2026-11-24T09:40:00Z')
  await tablet.refresh()
  const late = await tablet.api('POST', `/kiosk/api/visitors/${visitor['Val Early']}/sign-out`, {
    at: at('09:15'),
    sentAt: at('09:40'),
  })
  assert.equal(late.statusCode, 200, late.body)
  // During the alarm: reception signs Vic out, Vin uses her link, Wes holds his badge to the kiosk.
  ctx.clock.set('2026-11-24T09:41:00Z')
  await desk.browser.get('/reception')
  assert.equal(
    (await desk.browser.post(`/reception/visitors/${visitor['Vic Desk']}/sign-out`)).statusCode,
    303,
  )
  ctx.clock.set('2026-11-24T09:42:00Z')
  assert.equal(
    (await ctx.app.inject({ method: 'POST', url: new URL(link('Vin Link')).pathname })).statusCode,
    200,
  )
  ctx.clock.set('2026-11-24T09:43:00Z')
  const badge = await tablet.api('POST', '/kiosk/api/visitors/sign-out-by-badge', { link: link('Wes Badge') })
  assert.equal(badge.statusCode, 200, badge.body)

  let html = await page()
  assert.match(
    group(html, 'left'),
    /Val Early[\s\S]*Left before the alarm — signed out 09:15, reached the server late/,
    'Val has a line in the group of those who left before the alarm, kept',
  )
  assert.match(group(html, 'left'), /data-mark-form/, 'a marshal can still mark her (missing counts)')
  const visitors = group(html, 'visitors')
  assert.doesNotMatch(visitors, /Val Early/)
  assert.match(visitors, /Vic Desk[\s\S]*?Signed out at 09:41, during the alarm/)
  assert.match(visitors, /Vin Link[\s\S]*?Signed out at 09:42, during the alarm/)
  assert.match(visitors, /Wes Badge[\s\S]*?Signed out at 09:43, during the alarm/)
  assert.match(html, /<span class="count">4<\/span> not accounted for/, 'Amy, Vic, Vin and Wes; not Val')
  assert.match(
    html,
    /4 on the list: <a href="#in">1 in<\/a> · <a href="#unconfirmed">0 unconfirmed<\/a> · <a href="#visitors">3 visitors<\/a> · <a href="#left">1 left before the alarm<\/a>/,
  )

  // The marshal confirms Vic at the assembly point: the JSON answer's counts agree with the page.
  const marked = await desk.browser.request({
    method: 'POST',
    url: `${url}/marks`,
    payload: new URLSearchParams({
      _csrf: desk.browser.csrfToken(),
      person: `v${visitor['Vic Desk']}`,
      status: 'safe',
    }).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
  })
  assert.equal(marked.statusCode, 200)
  assert.deepEqual(
    [marked.json().counts.total, marked.json().counts.accounted, marked.json().counts.unaccounted],
    [4, 1, 3],
  )
  html = await page()
  assert.match(html, /<span class="count">3<\/span> not accounted for/)

  const print = (await desk.browser.get(`${url}/print`)).body
  assert.match(
    print,
    /4 on the list · 1 safe · 3 not accounted for · 1 left before the alarm \(not counted\)/,
  )
  assert.match(print, /Val Early \(visitor[^<]*\)<\/td>[\s\S]*?Left before the alarm — signed out 09:15/)
  assert.match(print, /Vic Desk \(visitor[^<]*\)<\/td>[\s\S]*?Signed out at 09:41, during the alarm/)

  ctx.clock.set('2026-11-24T10:00:00Z')
  await desk.browser.get(url)
  assert.equal((await desk.browser.post(`${url}/end`)).statusCode, 303)
  const report = (await desk.browser.get(`${url}/report`)).body
  assert.match(
    report,
    /<dd>4 \(1 in, 0 unconfirmed, 3 visitors\), and 1 who left before the alarm \(not counted\)<\/dd>/,
  )
  const never = report.slice(
    report.indexOf('Never accounted for ('),
    report.indexOf('Left before the alarm ('),
  )
  assert.match(never, /^Never accounted for \(3\)/)
  assert.match(never, /Vin Link[^<]*<\/span> · unaccounted · <strong>Signed out at 09:42, during the alarm/)
  assert.doesNotMatch(never, /Val Early/)
  assert.match(
    report,
    /Left before the alarm \(1\)[\s\S]*Val Early[\s\S]*signed out 09:15, reached the server late/,
  )
  const csv = (await desk.browser.get(`${url}/report.csv`)).body.trim().split('\n')
  const row = (name: string) => csv.find((l) => l.startsWith(`${name},`))!
  assert.match(row('Val Early'), /,unaccounted,.*,yes,2026-11-24T09:15:00\+00:00,yes$/)
  assert.match(row('Vic Desk'), /,safe,Rita Desk,.*,yes,2026-11-24T09:41:00\+00:00,no$/)
  assert.match(row('Amy'), /,yes,,no$/)
})
