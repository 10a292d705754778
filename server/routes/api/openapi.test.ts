import assert from 'node:assert/strict'
import { test } from 'node:test'
import SwaggerParser from '@apidevtools/swagger-parser'
import type { OpenAPI } from 'openapi-types'
import { buildTestApp } from '../../testing/build-test-app.js'
import { checkApiExchanges } from '../../testing/openapi-check.js'
import { apiTokenFor, giveRole } from '../../testing/roles.js'

test('the OpenAPI document is valid OpenAPI 3.1 and lists every /api/v1 route with its answers', async (t) => {
  const { app } = await buildTestApp(t)
  const response = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })
  assert.equal(response.statusCode, 200)
  const document = response.json() as OpenAPI.Document & {
    openapi: string
    paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>
  }
  assert.equal(document.openapi, '3.1.0')
  // Validated against the OpenAPI 3.1 JSON schema, with every $ref resolvable.
  await SwaggerParser.validate(structuredClone(document))

  const apiRoutes = app.routeList
    .flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((m) => ({ method: m, url: r.url })))
    .filter((r) => r.url.startsWith('/api/v1/') && r.url !== '/api/v1/openapi.json' && r.method !== 'HEAD')
  assert.ok(apiRoutes.length >= 7)
  for (const route of apiRoutes) {
    const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    const operation = document.paths[path]?.[route.method.toLowerCase()]
    assert.ok(
      operation,
      `${route.method} ${route.url} has no schema: declare one (server/routes/api/api.schemas.ts)`,
    )
    const codes = Object.keys(operation.responses)
    assert.ok(
      codes.some((c) => c.startsWith('2')),
      `${route.method} ${route.url} declares no success answer`,
    )
    assert.ok(codes.includes('4XX'), `${route.method} ${route.url} declares no error answer`)
    if (route.method === 'POST')
      assert.ok(operation.requestBody || path.endsWith('/sign-in') || path.endsWith('/sign-out'))
  }
  assert.ok(!document.paths['/login'], 'pages are not part of the API document')
})

test('the reference page lists the operations, fits the strict CSP, and needs nobody signed in', async (t) => {
  const { app } = await buildTestApp(t)
  const page = await app.inject({ method: 'GET', url: '/docs/api' })
  assert.equal(page.statusCode, 200)
  assert.match(page.headers['content-type'] as string, /text\/html/)
  assert.match(page.body, /<code>POST \/api\/v1\/sign-in<\/code>/)
  assert.match(page.body, /<code>idempotency-key<\/code>/)
  assert.match(page.body, /<code>person\.firstName<\/code>/)
  assert.doesNotMatch(page.body, /<script(?![^>]*src="\/static\/)/, 'no inline or third-party script')
  assert.doesNotMatch(page.body, / style="/, 'no inline style')
})

test('the checker catches an answer the document does not describe, and a field the serialiser drops', () => {
  const document = {
    openapi: '3.1.0',
    paths: {
      '/api/v1/me': {
        get: {
          responses: {
            200: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['present'],
                    properties: { present: { type: 'boolean' } },
                  },
                },
              },
            },
          },
        },
      },
    },
  }
  const ok = { method: 'GET', route: '/api/v1/me', status: 200, contentType: 'application/json' }
  assert.deepEqual(
    checkApiExchanges(document, [{ ...ok, body: '{"present":true}', presented: { present: true } }]),
    [],
  )
  const [dropped] = checkApiExchanges(document, [
    { ...ok, body: '{"present":true}', presented: { present: true, since: null } },
  ])
  assert.match(dropped!, /dropped/)
  const [wrong] = checkApiExchanges(document, [{ ...ok, body: '{"present":"yes"}' }])
  assert.match(wrong!, /does not match the document/)
  const [undeclared] = checkApiExchanges(document, [{ ...ok, status: 401, body: '{"error":"x"}' }])
  assert.match(undeclared!, /status not declared/)
  const [unknown] = checkApiExchanges(document, [{ ...ok, route: '/api/v1/other', body: '{}' }])
  assert.match(unknown!, /not in the OpenAPI document/)
})

test('streamed and cached answers (visits as JSON and CSV, presence) match the document', async (t) => {
  const ctx = await buildTestApp(t)
  const token = await apiTokenFor(ctx, 'boss@example.org')
  await giveRole(ctx, 'boss@example.org', 'admin')
  const auth = { authorization: `Bearer ${token}` }
  await ctx.app.inject({ method: 'POST', url: '/api/v1/sign-in', headers: auth })
  const document = (await ctx.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json()
  const exchanges = []
  for (const accept of ['application/json', 'text/csv']) {
    const r = await ctx.app.inject({ method: 'GET', url: '/api/v1/visits', headers: { ...auth, accept } })
    assert.equal(r.statusCode, 200)
    exchanges.push({
      method: 'GET',
      route: '/api/v1/visits',
      status: r.statusCode,
      contentType: String(r.headers['content-type']),
      body: r.body,
    })
  }
  assert.equal(JSON.parse(exchanges[0]!.body).visits.length, 1)
  const presence = await ctx.app.inject({ method: 'GET', url: '/api/v1/presence', headers: auth })
  assert.equal(presence.json().count, 1)
  exchanges.push({
    method: 'GET',
    route: '/api/v1/presence',
    status: 200,
    contentType: String(presence.headers['content-type']),
    body: presence.body,
  })
  assert.deepEqual(checkApiExchanges(document, exchanges), [])
  const broken = JSON.parse(exchanges[0]!.body)
  broken.visits[0].signedInAt = 'yesterday'
  assert.equal(checkApiExchanges(document, [{ ...exchanges[0]!, body: JSON.stringify(broken) }]).length, 1)
})
