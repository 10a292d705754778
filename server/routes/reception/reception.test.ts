import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { buildTestApp, TestBrowser } from '../../testing/build-test-app.js'
import { personWithRole, tapSignIn, tapSignOut } from '../../testing/reception.js'

test('the presence board counts people, sorts by name, flags unconfirmed visits and greys departures', async (t) => {
  const ctx = await buildTestApp(t)
  const { db } = ctx.app.ctx
  const desk = await personWithRole(
    ctx,
    'desk@example.org',
    { firstName: 'Rita', lastName: 'Desk' },
    'reception',
  )
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

  const page = await desk.browser.get('/reception')
  assert.equal(page.statusCode, 200)
  assert.match(
    page.body,
    /<span class="count">3<\/span> people in the building/,
    'Amy counts once despite two visits',
  )
  const inside = page.body.slice(
    page.body.indexOf('aria-label="In the building"'),
    page.body.indexOf('Left today'),
  )
  const names = [...inside.matchAll(/<span class="name">([^<]+)<\/span>/g)].map((m) => m[1])
  assert.deepEqual(names, ['Amy Clark', 'bob Brown', 'Zoe Adams'])
  assert.match(inside, /class="unconfirmed">\s*<span class="name">Zoe Adams/)
  assert.match(inside, /unconfirmed<\/strong> open since/)
  const left = page.body.slice(page.body.indexOf('aria-label="Left today"'))
  assert.match(left, /Carl Dean<\/span>\s*<span class="when">\s*left at/)
  assert.match(
    left,
    /Dan Evans<\/span>\s*<span class="when">\s*<strong class="tag">unconfirmed<\/strong> closed by the system/,
  )
  assert.doesNotMatch(left, /Amy Clark/, 'back inside, so not among departures')
  assert.match(page.body, /<noscript><meta http-equiv="refresh" content="30"><\/noscript>/)
  assert.match(page.body, /<script src="\/static\/reception.js" defer><\/script>/)

  const display = await desk.browser.get('/reception/display')
  assert.equal(display.statusCode, 200)
  assert.match(display.body, /class="display"/)
  assert.match(display.body, /<span class="count">3<\/span> people in the building/)
  const js = await ctx.app.inject({ method: 'GET', url: '/static/reception.js' })
  assert.equal(js.statusCode, 200)
  assert.match(String(js.headers['content-type']), /javascript/)
})
