import type { HTTPMethods } from 'fastify'
import fp from 'fastify-plugin'

/** A route as registered: its method(s) and URL pattern. */
export interface RouteEntry {
  method: HTTPMethods | HTTPMethods[]
  url: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered after this plugin, in order (for the role test over all routes). */
    routeList: RouteEntry[]
  }
}

/** Records every route as it is added, so tests can enumerate the app's routes from the app itself. */
export default fp(
  async (app) => {
    const routes: RouteEntry[] = []
    app.decorate('routeList', routes)
    app.addHook('onRoute', (route) => {
      routes.push({ method: route.method, url: route.url })
    })
  },
  { name: 'route-list' },
)
