import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Config } from './config.js'
import { connect, type Db } from './db/connect.js'
import { migrateToLatest } from './db/migrate.js'
import { deriveKeys } from './identity/secrets.js'
import { UserError } from './lib/errors.js'
import { clientMessage, isDatabaseBusy } from './lib/http-errors.js'
import { type Clock, systemClock } from './lib/site-time.js'
import type { Channel } from './messaging/channel.js'
import { channelsFromConfig } from './messaging/channels.js'
import { Messenger } from './messaging/messenger.js'
import authPlugin from './plugins/auth.js'
import contextPlugin from './plugins/context.js'
import jobsPlugin from './plugins/jobs.js'
import routeListPlugin from './plugins/route-list.js'
import securityPlugin from './plugins/security.js'
import sessionPlugin from './plugins/session.js'
import staticPlugin from './plugins/static.js'
import viewPlugin from './plugins/view.js'
import { RegisterEvents } from './register/events.js'
import adminRoutes from './routes/admin/index.js'
import adminMessagesRoutes from './routes/admin-messages/index.js'
import apiRoutes from './routes/api/index.js'
import visitsApiRoutes from './routes/api/visits.js'
import authRoutes from './routes/auth/index.js'
import healthRoutes from './routes/health/index.js'
import metricsRoutes from './routes/health/metrics.js'
import historyRoutes from './routes/history/index.js'
import profileRoutes from './routes/profile/index.js'
import pwaRoutes from './routes/pwa/index.js'
import receptionRoutes from './routes/reception/index.js'
import presenceApiRoutes from './routes/reception/presence-api.js'
import registerRoutes from './routes/register/index.js'
import reminderRoutes from './routes/reminders/index.js'
import webhookRoutes from './routes/webhooks/index.js'

/** Replaceable parts, for tests and for the worker: a database, a clock, message channels. */
export interface AppDeps {
  db?: Db
  clock?: Clock
  channels?: (log: FastifyInstance['log']) => Channel[] | Promise<Channel[]>
  logger?: FastifyServerOptions['logger']
  /** Run the scheduled jobs in this process when there is no REDIS_URL (server.ts turns it on). */
  embeddedJobs?: boolean
}

function wantsJson(url: string, accept: string | undefined): boolean {
  if (url.startsWith('/api/')) return true
  if (!accept) return false
  return accept.includes('application/json') && !accept.includes('text/html')
}

/** Builds the whole web app without listening: plugins, routes, then error and 404 handlers. */
export async function buildApp(config: Config, deps: AppDeps = {}): Promise<FastifyInstance> {
  const options: FastifyServerOptions = {
    logger: deps.logger ?? {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      serializers: {
        // Sign-in, reminder and broadcast-reply links carry a token in the path: never log it.
        req: (req: { method: string; url: string; ip?: string }) => ({
          method: req.method,
          url: req.url.replace(/\/(link|r|b)\/[^/?#]+/, '/$1/[redacted]'),
          ip: req.ip,
        }),
      },
      ...(config.LOG_PRETTY
        ? {
            transport: {
              target: 'pino-pretty',
              options: { ignore: 'pid,hostname,reqId', translateTime: 'HH:MM:ss' },
            },
          }
        : {}),
    },
    // A hop count trusts that many proxies nearest to us; lists and booleans mean what Fastify says.
    trustProxy:
      typeof config.TRUST_PROXY === 'number'
        ? (
            (hops: number) => (_address: string, hop: number) =>
              hop < hops
          )(config.TRUST_PROXY)
        : config.TRUST_PROXY,
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
  }
  const app: FastifyInstance = Fastify(options)

  let db = deps.db
  let closeDb = async () => {}
  if (!db) {
    const connection = connect(config.DATABASE_PATH)
    db = connection.db
    closeDb = () => connection.db.destroy()
    await migrateToLatest(db)
  }
  const keys = deriveKeys(config.SESSION_SECRET)
  const clock = deps.clock ?? systemClock
  const messenger = new Messenger(
    (await deps.channels?.(app.log)) ?? (await channelsFromConfig(config, app.log)),
    { siteName: config.SITE_NAME, publicUrl: config.PUBLIC_URL },
    { db, clock, log: app.log.child({ module: 'messaging' }) },
  )
  const identity = {
    db,
    codeKey: keys.codes,
    messenger,
    clock,
    defaultRegion: config.DEFAULT_PHONE_REGION,
    adminContacts: config.ADMIN_CONTACTS,
  }

  const events = new RegisterEvents()
  await app.register(contextPlugin, { config, db, clock, keys, messenger, identity, events, closeDb })
  await app.register(securityPlugin)
  await app.register(sessionPlugin)
  await app.register(viewPlugin)
  await app.register(authPlugin)
  await app.register(staticPlugin)
  await app.register(jobsPlugin, { enabled: deps.embeddedJobs ?? false })
  await app.register(routeListPlugin)

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    // Another process (a purge, a migration, a backup) held the database past busy_timeout: a
    // moment's wait, not a fault. Say so, and when to retry (the PWA's queue retries by itself).
    const busy = isDatabaseBusy(error)
    const status = busy ? 503 : error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
    if (status >= 500) request.log.error({ err: error }, 'request failed')
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

  // Routes load after the handlers above, so every route context inherits them.
  await app.register(healthRoutes)
  await app.register(metricsRoutes)
  await app.register(authRoutes)
  await app.register(registerRoutes)
  await app.register(profileRoutes)
  await app.register(apiRoutes, { prefix: '/api/v1' })
  await app.register(webhookRoutes)
  await app.register(adminMessagesRoutes)
  await app.register(pwaRoutes)
  await app.register(reminderRoutes)
  await app.register(historyRoutes)
  await app.register(adminRoutes, { prefix: '/admin' })
  await app.register(visitsApiRoutes, { prefix: '/api/v1' })
  await app.register(receptionRoutes)
  await app.register(presenceApiRoutes, { prefix: '/api/v1' })

  return app
}
