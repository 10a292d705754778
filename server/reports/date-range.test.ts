import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { createIntegrationToken } from '../identity/integration-token.service.js'
import { cliContext } from '../identity/roles.service.js'
import { UserError } from '../lib/errors.js'
import { buildTestApp, loginAs } from '../testing/build-test-app.js'
import { parseDateRange } from './date-range.js'

const site = { timeZone: 'Europe/London', now: Date.parse('2026-11-23T09:00:00Z') }

/** Strings that look almost like dates, plus anything at all. */
const dateish = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc
    .tuple(
      fc.integer({ min: -1, max: 99999 }),
      fc.integer({ min: -1, max: 99 }),
      fc.integer({ min: -1, max: 99 }),
    )
    .map(
      ([y, m, d]) =>
        `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`,
    ),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
  fc.constantFrom(
    '',
    ' ',
    '2026-02-29',
    '2024-02-29',
    '2026-03-29',
    '2026-10-25',
    'today',
    '2026-1-1',
    '２０２６-01-01',
  ),
)

test('parseDateRange returns a sane range or a 400 with a message, for any input', () => {
  fc.assert(
    fc.property(
      fc.option(dateish, { nil: undefined }),
      fc.option(dateish, { nil: undefined }),
      (from, to) => {
        try {
          const r = parseDateRange({ from, to }, site)
          assert.ok(r.from <= r.to)
          assert.ok(r.fromMs < r.toMs)
          assert.ok(r.days >= 1 && r.days <= 3700)
          // Local days are 23, 24 or 25 hours long.
          const hours = (r.toMs - r.fromMs) / 3_600_000
          assert.ok(hours >= r.days * 24 - 1 && hours <= r.days * 24 + 1)
        } catch (error) {
          assert.ok(error instanceof UserError, String(error))
          assert.equal(error.statusCode, 400)
          assert.ok(error.message.length > 10)
        }
      },
    ),
    { numRuns: 500 },
  )
})

test('the DST days have 23 and 25 hours in Europe/London', () => {
  const spring = parseDateRange({ from: '2026-03-29', to: '2026-03-29' }, site)
  assert.equal((spring.toMs - spring.fromMs) / 3_600_000, 23)
  const autumn = parseDateRange({ from: '2026-10-25', to: '2026-10-25' }, site)
  assert.equal((autumn.toMs - autumn.fromMs) / 3_600_000, 25)
})

test('bad dates on every report route give 400 with a message, never 500', async (t) => {
  const ctx = await buildTestApp(t, { env: { ADMIN_CONTACTS: 'admin@example.org' } })
  const admin = await loginAs(ctx, 'admin@example.org', { firstName: 'Ada', lastName: 'Admin' })
  const cookie = [...admin.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  const { token } = await createIntegrationToken(
    ctx.app.ctx.db,
    { personId: null, at: ctx.clock.now(), context: cliContext('test') },
    { name: 'HR', role: 'admin' },
  )
  const routes = [
    '/admin/stats',
    '/admin/export?format=csv',
    '/admin/export?report=summary&format=xlsx',
    '/admin/audit',
    '/api/v1/visits',
  ]
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...routes),
      fc.option(dateish, { nil: undefined }),
      fc.option(dateish, { nil: undefined }),
      async (route, from, to) => {
        const query = new URLSearchParams()
        if (from !== undefined) query.set('from', from)
        if (to !== undefined) query.set('to', to)
        const url = `${route}${route.includes('?') ? '&' : '?'}${query}`
        const headers = route.startsWith('/api/') ? { authorization: `Bearer ${token}` } : { cookie }
        const response = await ctx.app.inject({ method: 'GET', url, headers })
        assert.ok(
          response.statusCode === 200 || response.statusCode === 400,
          `${url}: ${response.statusCode}`,
        )
        if (response.statusCode === 400) assert.match(response.body, /date|range|check the request/i)
      },
    ),
    { numRuns: 150 },
  )
  const bad = await ctx.app.inject({
    method: 'GET',
    url: '/admin/stats?from=2026-02-30',
    headers: { cookie },
  })
  assert.equal(bad.statusCode, 400)
  assert.match(bad.body, /2026-02-30 does not exist in the calendar/)
  const reversed = await ctx.app.inject({
    method: 'GET',
    url: '/admin/export?from=2026-05-02&to=2026-05-01',
    headers: { cookie },
  })
  assert.equal(reversed.statusCode, 400)
  assert.match(reversed.body, /must not be after/)
})
