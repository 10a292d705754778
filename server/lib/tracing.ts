import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Config } from '../config.js'

/**
 * OpenTelemetry traces, when OTEL_EXPORTER_OTLP_ENDPOINT is set: one server span per request,
 * exported by the official OTLP/HTTP exporter to `<endpoint>/v1/traces`. The packages are imported
 * only then (unset, none is loaded). Spans are made from Fastify's hooks with the official API, on
 * a tracer provider of our own (nothing global, no patched modules), and carry only the method, the
 * route pattern (never the URL: links carry tokens; no query string), the status code and the
 * service name: no headers, no address, no user.
 */
export async function startTracing(app: FastifyInstance, config: Config): Promise<boolean> {
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return false
  const [api, { TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-trace'),
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
    ])
  const exporter = new OTLPTraceExporter({
    url: `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`,
  })
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  })
  const tracer = provider.getTracer('building-register')
  const spans = new WeakMap<FastifyRequest, ReturnType<typeof tracer.startSpan>>()
  const routeOf = (request: FastifyRequest) => request.routeOptions.url ?? '(no route)'
  app.addHook('onRequest', async (request) => {
    const route = routeOf(request)
    spans.set(
      request,
      tracer.startSpan(`${request.method} ${route}`, {
        kind: api.SpanKind.SERVER,
        attributes: { 'http.request.method': request.method, 'http.route': route },
      }),
    )
  })
  app.addHook('onResponse', async (request, reply) => {
    const span = spans.get(request)
    if (!span) return
    span.setAttribute('http.response.status_code', reply.statusCode)
    if (reply.statusCode >= 500) span.setStatus({ code: api.SpanStatusCode.ERROR })
    span.end()
  })
  app.addHook('onClose', async () => {
    await provider.shutdown()
  })
  return true
}
