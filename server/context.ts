import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from './config.js'
import type { Db } from './db/connect.js'
import { openMigratedDatabase } from './db/migrate.js'
import type { IdentityDeps } from './identity/code.service.js'
import { deriveKeys, type Keys } from './identity/secrets.js'
import { type ErrorMonitor, startErrorMonitor } from './lib/monitoring.js'
import type { RedisTransport } from './lib/redis.js'
import { type Clock, systemClock } from './lib/site-time.js'
import type { Channel } from './messaging/channel.js'
import { channelsFromConfig } from './messaging/channels.js'
import { Messenger } from './messaging/messenger.js'
import { ReceptionEvents } from './reception/live-events.js'
import { RegisterEvents } from './register/events.js'

/**
 * Everything a process needs that is not HTTP: config, database, clock, keys, messaging, and the
 * live events every process hears. The web app, the worker and every command-line task build it.
 */
export interface AppContext {
  config: Config
  db: Db
  clock: Clock
  keys: Keys
  messenger: Messenger
  /** The bundle the identity functions take. */
  identity: IdentityDeps
  /** Presence changes, announced after commit, heard by every process. */
  events: RegisterEvents
  /** Roll-call marks and broadcast deliveries, heard by every process. */
  live: ReceptionEvents
  /** A fail-fast command connection to REDIS_URL (rate limits, publishing, health); null without Redis. */
  redis: Redis | null
  /** True when live events reach other processes (Redis connected and subscribed); null without Redis. */
  liveReady: (() => boolean) | null
  /** Sentry when SENTRY_DSN is set (server errors, failed jobs); undefined otherwise. */
  monitor: ErrorMonitor | undefined
}

/** Replaceable parts, for tests: a database, a clock, message channels. */
export interface ContextDeps {
  db?: Db
  clock?: Clock
  channels?: (log: FastifyBaseLogger) => Channel[] | Promise<Channel[]>
}

/**
 * Builds a process's context from the config: opens the database unless one is given (migrating
 * SQLite; PostgreSQL must already be migrated), derives the keys, enables the message channels, and connects the live events to Redis
 * when REDIS_URL is set. `close()` releases all of it.
 */
export async function createContext(
  config: Config,
  log: FastifyBaseLogger,
  deps: ContextDeps = {},
): Promise<{ context: AppContext; close: () => Promise<void> }> {
  const closers: (() => Promise<void> | void)[] = []
  // Closed last (closers run in reverse), so errors met while closing are still sent.
  const monitor = await startErrorMonitor(config)
  if (monitor) closers.push(() => monitor.close(2000))
  let db = deps.db
  if (!db) {
    // SQLite is migrated here; PostgreSQL by the release phase (a schema behind refuses to start).
    const opened = await openMigratedDatabase(config)
    db = opened
    closers.push(() => opened.destroy())
  }
  const keys = deriveKeys(config.SESSION_SECRET)
  const clock = deps.clock ?? systemClock
  const messenger = new Messenger(
    (await deps.channels?.(log)) ?? (await channelsFromConfig(config, log)),
    { siteName: config.SITE_NAME, publicUrl: config.PUBLIC_URL },
    { db, clock, log: log.child({ module: 'messaging' }) },
  )

  let redis: Redis | null = null
  let transport: RedisTransport | undefined
  if (config.REDIS_URL) {
    // Loaded only when used: the embedded default never needs a Redis client.
    const { commandConnection, redisTransport } = await import('./lib/redis.js')
    const connection = commandConnection(config.REDIS_URL, config.REDIS_TLS_VERIFY)
    connection.on('error', () => {}) // reported by the transport and /healthz, not once per retry
    redis = connection
    transport = redisTransport(
      connection,
      config.REDIS_URL,
      log.child({ module: 'live' }),
      config.REDIS_TLS_VERIFY,
    )
    closers.push(
      () => transport?.close(),
      () => connection.disconnect(),
    )
  }

  const context: AppContext = {
    config,
    db,
    clock,
    keys,
    messenger,
    identity: {
      db,
      codeKey: keys.codes,
      messenger,
      clock,
      defaultRegion: config.DEFAULT_PHONE_REGION,
      adminContacts: config.ADMIN_CONTACTS,
      smsAllowedCountries: config.SMS_ALLOWED_COUNTRIES,
      smsCodesPerHour: config.SMS_CODES_PER_HOUR,
    },
    events: new RegisterEvents(transport),
    live: new ReceptionEvents(transport),
    redis,
    liveReady: transport ? () => transport.ready() : null,
    monitor,
  }
  return {
    context,
    async close() {
      for (const close of closers.reverse()) await close()
    },
  }
}
