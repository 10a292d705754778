import type { IncomingMessage, Server } from 'node:http'
import type { Socket } from 'node:net'
import Fastify, {
  type FastifyError,
  type FastifyHttpOptions,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify'
import type { Config } from './config.js'
import { type ContextDeps, createContext } from './context.js'
import { UserError } from './lib/errors.js'
import { clientMessage, isDatabaseBusy } from './lib/http-errors.js'
import { loggerOptions } from './lib/logger.js'
import { originForm } from './lib/request-target.js'
import { startTracing } from './lib/tracing.js'
import authPlugin from './plugins/auth.js'
import contextPlugin from './plugins/context.js'
import jobsPlugin from './plugins/jobs.js'
import openapiPlugin from './plugins/openapi.js'
import routeListPlugin from './plugins/route-list.js'
import securityPlugin from './plugins/security.js'
import sessionPlugin from './plugins/session.js'
import staticPlugin from './plugins/static.js'
import viewPlugin from './plugins/view.js'
import adminRoutes from './routes/admin/index.js'
import apiRoutes from './routes/api/index.js'
import openapiRoutes from './routes/api/openapi.js'
import visitsApiRoutes from './routes/api/visits.js'
import authRoutes from './routes/auth/index.js'
import healthRoutes from './routes/health/index.js'
import metricsRoutes from './routes/health/metrics.js'
import historyRoutes from './routes/history/index.js'
import invitationLinkRoutes from './routes/invitation-links/index.js'
import invitationRoutes from './routes/invitations/index.js'
import kioskRoutes from './routes/kiosk/index.js'
import privacyRoutes from './routes/privacy/index.js'
import profileRoutes from './routes/profile/index.js'
import pwaRoutes from './routes/pwa/index.js'
import receptionRoutes from './routes/reception/index.js'
import presenceApiRoutes from './routes/reception/presence-api.js'
import registerRoutes from './routes/register/index.js'
import reminderRoutes from './routes/reminders/index.js'
import scimRoutes from './routes/scim/index.js'
import ssoRoutes from './routes/sso/index.js'
import webhookRoutes from './routes/webhooks/index.js'
import { SsoClients, type SsoNetwork } from './sso/sso-clients.js'

/** Replaceable parts, for tests: a database, a clock, message channels, the logger. */
export interface AppDeps extends ContextDeps {
  logger?: FastifyServerOptions['logger']
  /** Run the scheduled jobs in this process when there is no REDIS_URL (server.ts turns it on). */
  embeddedJobs?: boolean
  /** HTTP timeouts (tests shorten them); the defaults are HTTP_TIMEOUTS. */
  timeouts?: { requestMs: number; checkEveryMs: number }
  /** How organisation sign-in reaches providers (tests point it at a local OpenID Provider). */
  sso?: SsoNetwork
  /** Called after the plugins and before the routes (tests record the API's answers here). */
  instrument?: (app: FastifyInstance) => void
}

/**
 * A request (headers and its at most 64 KB body) must arrive within 30 s, a phone on a poor line
 * included; a client that trickles a body is answered 408 and disconnected rather than held for
 * ever. An idle connection closes after 75 s (the reception board's event stream writes every
 * 25 s, so it never idles; nginx keeps its upstream connections for 60 s). Node checks for expired
 * requests every `checkEveryMs`.
 */
const HTTP_TIMEOUTS = { requestMs: 30_000, headersMs: 20_000, idleMs: 75_000, checkEveryMs: 5_000 }

/**
 * Node's server.close() drops the keep-alive connections idle at that moment, but waits until the
 * 75 s idle timeout for one that has not sent a request yet (a browser's speculative preconnect, a
 * client that reconnected and went quiet) and for one whose request was still being answered (it
 * idles once answered, kept alive): shutting down, and every test's teardown, waited that long.
 * Closing drops the first kind at once, and the second as soon as it idles (checked every 100 ms
 * until the close is done).
 */
function closeUnusedConnectionsOnClose(app: FastifyInstance): void {
  const unused = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    unused.add(socket)
    socket.once('close', () => unused.delete(socket))
  })
  app.server.on('request', (request: IncomingMessage) => unused.delete(request.socket))
  let idling: NodeJS.Timeout | undefined
  app.addHook('preClose', async () => {
    for (const socket of unused) socket.destroy()
    idling = setInterval(() => app.server.closeIdleConnections(), 100)
    idling.unref()
  })
  app.addHook('onClose', async () => clearInterval(idling))
}

function wantsJson(url: string, accept: string | undefined): boolean {
  if (url.startsWith('/api/')) return true
  if (!accept) return false
  return accept.includes('application/json') && !accept.includes('text/html')
}

/** Builds the whole web app without listening: plugins, routes, then error and 404 handlers. */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const options: FastifyHttpOptions<Server> = {
    logger: deps.logger ?? loggerOptions(config),
    // A hop count trusts that many proxies nearest to us; lists and booleans mean what Fastify says.
    trustProxy:
      typeof config.TRUST_PROXY === 'number'
        ? (
            (hops: number) => (_address: string, hop: number) =>
              hop < hops
          )(config.TRUST_PROXY)
        : config.TRUST_PROXY,
    bodyLimit: 64 * 1024,
    requestTimeout: deps.timeouts?.requestMs ?? HTTP_TIMEOUTS.requestMs,
    connectionTimeout: HTTP_TIMEOUTS.idleMs,
    http: {
      headersTimeout: Math.min(HTTP_TIMEOUTS.headersMs, deps.timeouts?.requestMs ?? HTTP_TIMEOUTS.requestMs),
      connectionsCheckingInterval: deps.timeouts?.checkEveryMs ?? HTTP_TIMEOUTS.checkEveryMs,
    },
    // Every route, hook and log line sees `/path?query`, whatever form the request line used.
    rewriteUrl: (request) => originForm(request.url ?? '/'),
    routerOptions: { ignoreTrailingSlash: true },
  }
  const app: FastifyInstance = Fastify(options)
  closeUnusedConnectionsOnClose(app)

  const { context, close } = await createContext(config, app.log, deps)
  const sso = new SsoClients(config.SSO_PROVIDERS, deps.sso)
  await app.register(contextPlugin, { context: { ...context, sso }, close })
  // Before any route, so every request (static files, 404s) gets its span.
  await startTracing(app, config)
  // First, so every route (static files included) is in the list the tests enumerate.
  await app.register(routeListPlugin)
  await app.register(securityPlugin)
  await app.register(sessionPlugin)
  await app.register(staticPlugin)
  await app.register(viewPlugin)
  await app.register(authPlugin)
  await app.register(jobsPlugin, { enabled: deps.embeddedJobs ?? false })
  await app.register(openapiPlugin)
  const { monitor } = context

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // Another process (a purge, a migration, a backup) held the database past busy_timeout: a
    // moment's wait, not a fault. Say so, and when to retry (the PWA's queue retries by itself).
    const busy = isDatabaseBusy(error)
    const status = busy ? 503 : error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
    // A busy database is a moment's wait, not a fault to report.
    if (status >= 500 && !busy) {
      monitor?.capture(error, {
        method: request.method,
        route: request.routeOptions.url ?? 'unknown',
        status,
      })
    }
    const message = busy
      ? 'The register is busy for a moment. Nothing was changed; please try again in a few seconds.'
      : status >= 500
        ? 'Something went wrong on our side. Nothing was changed; please try again.'
        : clientMessage(error)
    if (busy) reply.header('retry-after', '5')
    if (error instanceof UserError) reply.headers(error.headers)
    reply.code(status)
    if (wantsJson(request.url, request.headers.accept)) return { error: message }
    return reply.page('error', { status, message })
  })

  app.setNotFoundHandler(
    { preHandler: app.rateLimit({ max: 60, timeWindow: '1 minute' }) },
    async (request, reply) => {
      reply.code(404)
      const message = 'There is no page at this address.'
      if (wantsJson(request.url, request.headers.accept)) return { error: message }
      return reply.page('error', { status: 404, message })
    },
  )

  deps.instrument?.(app)
  // Routes load after the handlers above, so every route context inherits them.
  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(authRoutes)
  await app.register(invitationLinkRoutes)
  await app.register(ssoRoutes)
  await app.register(scimRoutes, { prefix: '/scim/v2' })
  await app.register(registerRoutes)
  await app.register(profileRoutes)
  await app.register(apiRoutes, { prefix: '/api/v1' })
  await app.register(webhookRoutes)
  await app.register(pwaRoutes)
  await app.register(reminderRoutes)
  await app.register(historyRoutes)
  await app.register(invitationRoutes)
  await app.register(adminRoutes, { prefix: '/admin' })
  await app.register(visitsApiRoutes, { prefix: '/api/v1' })
  await app.register(receptionRoutes)
  await app.register(presenceApiRoutes, { prefix: '/api/v1' })
  await app.register(openapiRoutes)
  await app.register(privacyRoutes)
  await app.register(kioskRoutes)

  return app
}
