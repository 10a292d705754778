import fp from 'fastify-plugin'
import type { AppContext } from '../context.js'
import type { SsoClients } from '../sso/sso-clients.js'

export type { AppContext } from '../context.js'

/** What every route and hook can reach: the process's context, and what only the web app has. */
export interface WebContext extends AppContext {
  /** Organisation sign-in providers (SSO_<n>_*) and their discovered configurations. */
  sso: SsoClients
}

declare module 'fastify' {
  interface FastifyInstance {
    ctx: WebContext
  }
}

/** Decorates the instance with the web context; what the process's context opened closes with the app. */
export default fp(
  async (app, options: { context: WebContext; close: () => Promise<void> }) => {
    app.decorate('ctx', options.context)
    app.addHook('onClose', async () => options.close())
  },
  { name: 'context' },
)
