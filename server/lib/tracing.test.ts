import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { projectRoot } from '../paths.js'
import { buildTestApp } from '../testing/build-test-app.js'
import { eventually } from '../testing/reception.js'
import { staticImportsOf } from '../testing/static-imports.js'

/** A local OTLP/HTTP collector: keeps every request's path and body. */
async function startCollector(): Promise<{
  url: string
  requests: { path: string; body: string }[]
  server: Server
}> {
  const requests: { path: string; body: string }[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server }
}

interface OtlpAttribute {
  key: string
  value: { stringValue?: string; intValue?: number | string }
}
interface OtlpSpan {
  name: string
  kind: number
  attributes: OtlpAttribute[]
}

test('with OTEL_EXPORTER_OTLP_ENDPOINT, each request is a server span with the route pattern and status, and nothing of the person', async (t) => {
  const collector = await startCollector()
  t.after(() => collector.server.close())
  const { app } = await buildTestApp(t, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${collector.url}/`, OTEL_SERVICE_NAME: 'register-test' },
  })
  app.get('/trace-me/:token', async () => ({ ok: true }))
  const answered = await app.inject({
    method: 'GET',
    url: '/trace-me/SECRETLINKTOKEN?contact=alice.smith%40example.org',
    headers: { cookie: 'session=SECRETCOOKIE', authorization: 'Bearer SECRETBEARER' },
  })
  assert.equal(answered.statusCode, 200)
  assert.equal((await app.inject({ method: 'GET', url: '/no-such-page/alice' })).statusCode, 404)

  const spans = (): OtlpSpan[] =>
    collector.requests.flatMap((r) =>
      (
        JSON.parse(r.body) as {
          resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[]
        }
      ).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
    )
  await eventually(async () => spans().length >= 2, 'both spans reach the collector')
  assert.ok(collector.requests.every((r) => r.path === '/v1/traces'))
  const attrs = (span: OtlpSpan) =>
    Object.fromEntries(span.attributes.map((a) => [a.key, a.value.stringValue ?? Number(a.value.intValue)]))
  const traced = spans().find((s) => s.name === 'GET /trace-me/:token')
  assert.ok(traced, `a span for the route, got ${spans().map((s) => s.name)}`)
  assert.equal(traced.kind, 2, 'SERVER')
  assert.deepEqual(attrs(traced), {
    'http.request.method': 'GET',
    'http.route': '/trace-me/:token',
    'http.response.status_code': 200,
  })
  const missing = spans().find((s) => s.name !== traced.name)!
  assert.equal(attrs(missing)['http.response.status_code'], 404)
  const everything = collector.requests.map((r) => r.body).join('\n')
  assert.match(everything, /register-test/, 'the service name')
  for (const secret of [
    'SECRETLINKTOKEN',
    'alice',
    'example.org',
    'SECRETCOOKIE',
    'SECRETBEARER',
    '127.0.0.1',
  ]) {
    assert.ok(!everything.includes(secret), `${secret} is not sent`)
  }
})

test('without OTEL_EXPORTER_OTLP_ENDPOINT nothing is sent, and OpenTelemetry is only ever imported dynamically (not loaded when unset)', async (t) => {
  const collector = await startCollector()
  t.after(() => collector.server.close())
  const { app } = await buildTestApp(t)
  assert.equal((await app.inject({ method: 'GET', url: '/privacy' })).statusCode, 200)
  await app.close()
  assert.equal(collector.requests.length, 0)
  assert.deepEqual(staticImportsOf('@opentelemetry', 'tracing.ts'), [])
  const tracing = readFileSync(join(projectRoot, 'server/lib/tracing.ts'), 'utf8')
  assert.match(
    tracing,
    /if \(!config\.OTEL_EXPORTER_OTLP_ENDPOINT\) return false\s+const \[[^\]]+\] =\s+await Promise\.all\(\[\s+import\('@opentelemetry\/api'\)/,
  )
})
