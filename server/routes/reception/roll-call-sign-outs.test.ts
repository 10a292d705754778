import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../../testing/build-test-app.js'
import {
  deskReceptionist,
  personWithRole,
  sendSavedTap,
  tapSignIn,
  tapSignOut,
} from '../../testing/reception.js'

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
