import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { InjectOptions } from 'fastify'
import { buildTestApp, loginAs, TestBrowser } from '../testing/build-test-app.js'
import { databaseSnapshot } from '../testing/db-snapshot.js'
import { browserWithEveryCookie, cookieChangingRoutes, formFieldNames } from '../testing/routes.js'

/** What @fastify/csrf-protection's refusals say (server/lib/http-errors.ts), told apart from role refusals. */
const csrfRefusal = /This form has expired/

/** How a forged or stale request carries (or lacks) its token. */
type Forgery =
  | { kind: 'no token' }
  | { kind: 'empty token' }
  | { kind: 'made-up token'; token: string }
  | { kind: "another session's token" }
  | { kind: 'own token without the session cookie' }

test('every cookie-authenticated POST/PUT/PATCH/DELETE route refuses a request without a valid CSRF token with 403 and changes nothing', async (t) => {
  const ctx = await buildTestApp(t, { env: { RATE_LIMIT_PER_MINUTE: '1000000' } })
  // The victim holds every cookie there is: an admin's device and session, and a paired kiosk's.
  const victim = await browserWithEveryCookie(ctx)
  await loginAs(ctx, 'target@example.org', { firstName: 'Tess', lastName: 'Target' })
  const ownToken = victim.csrfToken()
  const mallory = new TestBrowser(ctx.app, '198.51.100.66')
  await mallory.get('/login')
  const foreignToken = mallory.csrfToken()

  const routes = cookieChangingRoutes(ctx.app)
  for (const known of [
    '/sign-in',
    '/profile/name',
    '/admin/people/:id/role',
    '/reception/roll-calls',
    '/kiosk/api/visitors',
  ]) {
    assert.ok(
      routes.some((r) => r.url === known),
      `${known} is among the routes enumerated`,
    )
  }

  const before = await databaseSnapshot(ctx.app.ctx.db)
  let ip = 0
  let firstPass = true
  const attempt = async (
    route: { method: string; url: string },
    forgery: Forgery,
    format: 'form' | 'json',
    fields: Record<string, string>,
  ) => {
    const token =
      forgery.kind === 'no token'
        ? undefined
        : forgery.kind === 'empty token'
          ? ''
          : forgery.kind === 'made-up token'
            ? forgery.token
            : forgery.kind === "another session's token"
              ? foreignToken
              : ownToken
    const body = { ...fields, ...(token === undefined ? {} : { _csrf: token }) }
    const cookies = [...victim.cookies]
      .filter(([name]) => forgery.kind !== 'own token without the session cookie' || name !== 'br_session')
      .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
      .join('; ')
    ip++
    const response = await ctx.app.inject({
      method: route.method as InjectOptions['method'],
      url: route.url.replace(/:[A-Za-z_]+/g, '1'),
      remoteAddress: `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`,
      headers: {
        cookie: cookies,
        'user-agent': victim.userAgent,
        'content-type': format === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
        ...(format === 'json' ? { accept: 'application/json' } : {}),
      },
      payload: format === 'form' ? new URLSearchParams(body).toString() : JSON.stringify(body),
    })
    const what = `${route.method} ${route.url} (${forgery.kind}, ${format} ${JSON.stringify(fields)})`
    // A route's own tight limit (pairing, codes) may answer first once the property has sent it a few
    // times; that refusal must change nothing too. The first pass reaches every route's CSRF check.
    if (response.statusCode === 429 && !firstPass) {
      assert.equal(await databaseSnapshot(ctx.app.ctx.db), before, `${what} changed nothing`)
      return
    }
    assert.equal(response.statusCode, 403, `${what}: ${response.statusCode} ${response.body.slice(0, 300)}`)
    assert.match(response.body, csrfRefusal, `${what} is refused for its CSRF token`)
    assert.equal(await databaseSnapshot(ctx.app.ctx.db), before, `${what} changed nothing`)
  }

  // Every route at least once, then random forgeries, bodies and routes.
  for (const route of routes) await attempt(route, { kind: 'no token' }, 'form', {})
  firstPass = false
  const field = fc.constantFrom(...formFieldNames)
  const forgery: fc.Arbitrary<Forgery> = fc.oneof(
    fc.constant({ kind: 'no token' as const }),
    fc.constant({ kind: 'empty token' as const }),
    fc.string({ maxLength: 80 }).map((token) => ({ kind: 'made-up token' as const, token })),
    fc.constant({ kind: "another session's token" as const }),
    fc.constant({ kind: 'own token without the session cookie' as const }),
  )
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      forgery,
      fc.constantFrom('form' as const, 'json' as const),
      fc.dictionary(field, fc.string({ maxLength: 40 }), { maxKeys: 4 }),
      attempt,
    ),
    { numRuns: 150 },
  )
})
