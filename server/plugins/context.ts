import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import type { Db } from '../db/connect.js'
import type { IdentityDeps } from '../identity/code.service.js'
import type { Keys } from '../identity/secrets.js'
import type { Clock } from '../lib/site-time.js'
import type { Messenger } from '../messaging/messenger.js'
import type { RegisterEvents } from '../register/events.js'

/** What every route and hook can reach: config, database, clock, keys and messaging. */
export interface AppContext {
  config: Config
  db: Db
  clock: Clock
  keys: Keys
  messenger: Messenger
  /** The bundle the identity functions take. */
  identity: IdentityDeps
  /** Presence changes, announced after commit. */
  events: RegisterEvents
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: AppContext
  }
}

/** Decorates the instance with the app context; the database closes with the app. */
export default fp(
  async (app, ctx: AppContext & { closeDb: () => Promise<void> }) => {
    const { closeDb, ...context } = ctx
    app.decorate('ctx', context)
    app.addHook('onClose', async () => closeDb())
  },
  { name: 'context' },
)
