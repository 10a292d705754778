import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { InjectOptions } from 'fastify'
import type { Role } from '../db/database.js'
import { createIntegrationToken } from '../identity/integration-token.service.js'
import { cliContext } from '../identity/roles.service.js'
import { buildTestApp, loginAs, type TestApp, TestBrowser } from '../testing/build-test-app.js'
import { apiTokenFor, giveRole, loginWithRole, personIdOf } from '../testing/roles.js'

type Need = 'public' | 'signed-in' | 'reception' | 'admin'

/**
 * What a route needs, from its URL alone, so routes other branches add are covered as soon as
 * they exist: /admin → admin, /reception → reception; under /api/v1, auth is public, visits/admin/
 * tokens are admin, presence/reception/roll calls/broadcasts are reception, the rest needs a token.
 */
function need(url: string): Need {
  if (/^\/admin(\/|$)/.test(url)) return 'admin'
  if (/^\/reception(\/|$)/.test(url)) return 'reception'
  const api = /^\/api\/v1\/(.*)$/.exec(url)
  if (api) {
    const rest = api[1]!
    if (/^(auth(\/|$)|openapi\.json$)/.test(rest)) return 'public'
    if (/^(admin|visits|tokens|stats|people|audit)(\/|$)/.test(rest)) return 'admin'
    if (/^(presence|reception|roll-?calls?|broadcasts?)(\/|$)/.test(rest)) return 'reception'
    return 'signed-in'
  }
  return 'public'
}

const roleMessage = /This page is for/

/**
 * A request refused by schema validation (400) before any handler ran changed nothing; routes
 * from other areas may validate before checking the role. Admin routes check first, always.
 */
function validatedFirst(method: string, pattern: string, r: { status: number; body: string }): boolean {
  if (method === 'GET' || pattern.startsWith('/admin') || pattern === '/api/v1/visits') return false
  return r.status === 400 && /Please check the request/.test(r.body)
}
const methods = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])

/** Sends one request and reads at most a little of the body, so never-ending streams (SSE) cannot hang the test. */
async function probe(
  test: TestApp,
  options: InjectOptions,
): Promise<{ status: number; location: string; body: string }> {
  const response = await test.app.inject({ ...options, payloadAsStream: true })
  const stream = response.stream()
  let body = ''
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      stream.destroy()
      resolve()
    }, 1000)
    stream.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8')
      if (body.length > 20_000) {
        clearTimeout(timer)
        stream.destroy()
        resolve()
      }
    })
    stream.on('end', () => {
      clearTimeout(timer)
      resolve()
    })
    stream.on('error', () => {
      clearTimeout(timer)
      resolve()
    })
  })
  return { status: response.statusCode, location: String(response.headers.location ?? ''), body }
}

test('role enforcement on every route of the app, enumerated from the app itself', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  const { db } = ctx.app.ctx

  const anonymous = new TestBrowser(ctx.app)
  await anonymous.get('/login')
  const staff = await loginAs(ctx, 'staff@example.org', { firstName: 'Sam', lastName: 'Staff' })
  const reception = (await loginWithRole(ctx, 'reception@example.org', 'reception')).browser
  const admin = await loginAs(ctx, 'admin@example.org', { firstName: 'Ada', lastName: 'Admin' })
  await loginAs(ctx, 'target@example.org', { firstName: 'Tess', lastName: 'Target' })
  const targetId = await personIdOf(ctx, 'target@example.org')

  const staffToken = await apiTokenFor(ctx, 'staff@example.org')
  const receptionToken = await apiTokenFor(ctx, 'reception@example.org')
  const adminToken = await apiTokenFor(ctx, 'admin@example.org')
  const actor = { personId: null, at: ctx.clock.now(), context: cliContext('test') }
  const receptionIntegration = (await createIntegrationToken(db, actor, { name: 'Lobby', role: 'reception' }))
    .token
  const adminIntegration = (await createIntegrationToken(db, actor, { name: 'HR', role: 'admin' })).token

  const csrf = new Map<TestBrowser, string>()
  for (const [browser, page] of [
    [anonymous, '/login'],
    [staff, '/profile'],
    [reception, '/profile'],
    [admin, '/profile'],
  ] as const) {
    await browser.get(page)
    csrf.set(browser, browser.csrfToken())
  }

  const routes = ctx.app.routeList
    .flatMap((r) =>
      (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url })),
    )
    .filter((r) => methods.has(r.method))
  assert.ok(
    routes.some((r) => r.url === '/admin/people'),
    'admin routes are enumerated',
  )
  assert.ok(
    routes.some((r) => r.url === '/api/v1/visits'),
    'API routes are enumerated',
  )

  const asBrowser = (browser: TestBrowser, method: string, url: string) =>
    probe(ctx, {
      method: method as InjectOptions['method'],
      url,
      remoteAddress: browser.ip,
      headers: {
        cookie: [...browser.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; '),
        'user-agent': browser.userAgent,
        ...(method === 'GET' ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
      },
      ...(method === 'GET' ? {} : { payload: new URLSearchParams({ _csrf: csrf.get(browser)! }).toString() }),
    })
  const asBearer = (token: string | undefined, method: string, url: string) =>
    probe(ctx, {
      method: method as InjectOptions['method'],
      url,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(method === 'GET' ? {} : { 'content-type': 'application/json' }),
      },
      ...(method === 'GET' ? {} : { payload: '{}' }),
    })

  const checked: string[] = []
  for (const { method, url: pattern } of routes) {
    const url = pattern.replace(/:[A-Za-z_]+/g, String(targetId)).replace(/\*/g, 'x')
    const needs = need(pattern)
    const label = `${method} ${pattern}`
    const ok = (r: { status: number; body: string }, who: string) => {
      assert.ok(r.status < 500, `${label} as ${who}: ${r.status} ${r.body.slice(0, 200)}`)
      assert.ok(
        r.status !== 401 && !(r.status === 403 && roleMessage.test(r.body)),
        `${label} as ${who} is allowed: ${r.status}`,
      )
    }
    const forbidden = (r: { status: number; body: string }, who: string) => {
      if (validatedFirst(method, pattern, r)) return
      assert.equal(r.status, 403, `${label} as ${who}: ${r.body.slice(0, 200)}`)
      assert.match(r.body, roleMessage, `${label} as ${who} explains the role`)
    }
    if (pattern.startsWith('/api/')) {
      if (needs === 'public') continue
      const anon = await asBearer(undefined, method, url)
      if (validatedFirst(method, pattern, anon)) continue
      assert.equal(anon.status, 401, `${label} without a token`)
      assert.match(anon.body, /"error"/)
      if (needs === 'signed-in') {
        // Integration tokens are nobody: routes about "me" refuse them cleanly.
        for (const token of [receptionIntegration, adminIntegration]) {
          assert.ok((await asBearer(token, method, url)).status < 500, `${label} with an integration token`)
        }
      } else {
        const staffResult = await asBearer(staffToken, method, url)
        forbidden(staffResult, 'staff')
        if (needs === 'admin') {
          forbidden(await asBearer(receptionToken, method, url), 'reception')
          forbidden(await asBearer(receptionIntegration, method, url), 'reception integration token')
        } else {
          ok(await asBearer(receptionToken, method, url), 'reception')
          ok(await asBearer(receptionIntegration, method, url), 'reception integration token')
        }
        ok(await asBearer(adminToken, method, url), 'admin')
        ok(await asBearer(adminIntegration, method, url), 'admin integration token')
      }
    } else if (needs === 'admin' || needs === 'reception') {
      const anon = await asBrowser(anonymous, method, url)
      if (validatedFirst(method, pattern, anon)) continue
      assert.equal(anon.status, 303, `${label} anonymous is sent to log in`)
      assert.equal(anon.location, '/login', `${label} anonymous is sent to log in`)
      forbidden(await asBrowser(staff, method, url), 'staff')
      if (needs === 'admin') forbidden(await asBrowser(reception, method, url), 'reception')
      else ok(await asBrowser(reception, method, url), 'reception')
      ok(await asBrowser(admin, method, url), 'admin')
    } else {
      // Everything else is either public or for any signed-in person: never a 500, and a
      // signed-in-only page sends an anonymous visitor to /login rather than refusing them.
      const anon = await asBrowser(anonymous, method, url)
      assert.ok(anon.status < 500, `${label} anonymous: ${anon.status}`)
      if (anon.status >= 300 && anon.status < 400 && anon.location !== '/login') {
        assert.ok(!anon.location.startsWith('/admin'), `${label} does not send anonymous people into admin`)
      }
    }
    checked.push(label)
  }
  assert.ok(checked.length >= 15, `checked ${checked.length} routes`)
})

test('a role granted or revoked takes effect on the next request, without signing in again', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'pat@example.org', { firstName: 'Pat', lastName: 'Jones' })
  assert.equal((await browser.get('/admin/people')).statusCode, 403)
  await giveRole(ctx, 'pat@example.org', 'admin' satisfies Role)
  const page = await browser.get('/admin/people')
  assert.equal(page.statusCode, 200)
  assert.match(
    (await browser.get('/')).body,
    /class="admin-link" href="\/admin\/people">Admin</,
    'admins see the admin link',
  )
})
