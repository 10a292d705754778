import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, type TestBrowser } from '../../testing/build-test-app.js'
import { type KioskTablet, kioskAdmin, pairedKiosk } from '../../testing/kiosk.js'
import { personWithRole } from '../../testing/reception.js'

/** The path of the door code the kiosk shows now (what a phone camera would open). */
async function doorPath(tablet: KioskTablet): Promise<string> {
  const response = await tablet.api('GET', '/kiosk/api/door-code')
  assert.equal(response.statusCode, 200)
  assert.match(response.json().qr, /^data:image\/svg\+xml;base64,/)
  return new URL(response.json().url).pathname
}

/** Opens the door page and taps its button; returns the flash shown on the home page after. */
async function useDoor(phone: TestBrowser, path: string): Promise<{ status: number; said: string }> {
  const opened = await phone.get(path)
  if (opened.statusCode !== 200) return { status: opened.statusCode, said: opened.body }
  const action = /name="action" value="([^"]+)"/.exec(opened.body)![1]!
  const posted = await phone.post(path, { action })
  const home = await phone.follow(posted)
  return { status: posted.statusCode, said: home.body }
}

test('the door code: a fresh code signs in and out "at the door"; an expired, replayed or other-kiosk code fails', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const admin = await kioskAdmin(ctx)
  const main = await pairedKiosk(ctx, admin, 'Main entrance')
  const side = await pairedKiosk(ctx, admin, 'Side door')
  const alice = await personWithRole(ctx, 'alice@example.org', { firstName: 'Alice', lastName: 'Smith' })

  const fresh = await doorPath(main)
  assert.match(fresh, /^\/door\/\d+-\d+-[\w-]{22}$/)
  const page = await alice.browser.get(fresh)
  assert.match(page.body, /At the door: Main entrance/)
  assert.match(page.body, /Sign in at the door/)
  const first = await useDoor(alice.browser, fresh)
  assert.match(first.said, /You have signed in\..*at the door: Main entrance/)
  const visit = await db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()
  assert.equal(visit.signed_out_at, null)
  const door = await db.selectFrom('visit_at_door').selectAll().executeTakeFirstOrThrow()
  assert.deepEqual([door.visit_id, door.method, door.action], [visit.id, 'door-code', 'signed-in'])

  // The same code again (a screenshot): refused, and nothing changes.
  const replayed = await useDoor(alice.browser, fresh)
  assert.match(replayed.said, /already used this door code/)
  assert.equal((await db.selectFrom('visit').selectAll().executeTakeFirstOrThrow()).signed_out_at, null)

  // A minute later the code has expired, even unused by this person.
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Brown' })
  ctx.clock.advance(60_000)
  const expired = await bob.browser.get(fresh)
  assert.equal(expired.statusCode, 422)
  assert.match(expired.body, /door code has expired/)

  // Within its minute, the code still works for someone else (many people scan the same screen).
  const current = await doorPath(main)
  ctx.clock.advance(29_000)
  assert.match((await useDoor(bob.browser, current)).said, /You have signed in/)

  // Another kiosk's code altered to name this kiosk: its signature does not fit.
  const other = await doorPath(side)
  const sideId = /\/door\/(\d+)-/.exec(other)![1]!
  const mainId = /\/door\/(\d+)-/.exec(current)![1]!
  assert.notEqual(sideId, mainId)
  const forged = other.replace(`/door/${sideId}-`, `/door/${mainId}-`)
  const refused = await alice.browser.get(forged)
  assert.equal(refused.statusCode, 422)
  assert.match(refused.body, /not a door code from this building/)
  // A code from a kiosk that was unpaired since: refused.
  const sideRow = await db
    .selectFrom('kiosk')
    .select('id')
    .where('name', '=', 'Side door')
    .executeTakeFirstOrThrow()
  await admin.get('/admin/kiosks')
  await admin.post(`/admin/kiosks/${sideRow.id}/unpair`)
  assert.equal((await alice.browser.get(other)).statusCode, 422)

  // Signing out with a fresh code of the main kiosk.
  const out = await useDoor(alice.browser, await doorPath(main))
  assert.match(out.said, /You have signed out/)
  const audit = await db.selectFrom('audit_event').select(['action', 'detail']).orderBy('id').execute()
  const vias = audit.filter((a) => a.action.startsWith('visit.signed')).map((a) => JSON.parse(a.detail).via)
  assert.deepEqual(vias, ['door-code:Main entrance', 'door-code:Main entrance', 'door-code:Main entrance'])
  assert.ok(
    audit.some((a) => a.action === 'door-code.replayed' && JSON.parse(a.detail).kiosk === 'Main entrance'),
  )
  // Junk codes: 4xx, never 500.
  for (const junk of ['x', '1-2-3', `${mainId}-99999999999-${'A'.repeat(22)}`, '0-0-0', '%00']) {
    const response = await alice.browser.get(`/door/${encodeURIComponent(junk)}`)
    assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${junk}: ${response.statusCode}`)
  }
})

test('REQUIRE_DOOR_CODE: staff cannot sign in from the home page, an offline tap or the API; the door code still works; signing out is never gated', async (t) => {
  const ctx = await buildTestApp(t, { env: { REQUIRE_DOOR_CODE: 'true' } })
  const admin = await kioskAdmin(ctx)
  const tablet = await pairedKiosk(ctx, admin)
  const carol = await personWithRole(ctx, 'carol@example.org', { firstName: 'Carol', lastName: 'Home' })
  const home = await carol.browser.get('/')
  const day = /name="day" value="([^"]+)"/.exec(home.body)?.[1] ?? ''
  const refused = await carol.browser.follow(await carol.browser.post('/sign-in', { day }))
  assert.match(refused.body, /asks you to sign in at the door/)
  const tap = await carol.browser.request({
    method: 'POST',
    url: '/taps',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({
      action: 'sign-in',
      at: ctx.clock.now(),
      key: 'k1',
      _csrf: carol.browser.csrfToken(),
    }),
  })
  assert.equal(tap.statusCode, 422, 'a queued tap is dropped with its message, not retried for ever')
  assert.match(tap.json().error, /sign in at the door/)
  assert.equal(await ctx.app.ctx.db.selectFrom('visit').select('id').executeTakeFirst(), undefined)
  assert.match((await useDoor(carol.browser, await doorPath(tablet))).said, /You have signed in/)
  const out = await carol.browser.follow(await carol.browser.post('/sign-out', { day }))
  assert.match(out.body, /You have signed out/)
})
