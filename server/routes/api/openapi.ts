import type { FastifyInstance } from 'fastify'
import { operationsOf } from '../../openapi/reference.js'
import { API_PREFIX } from '../../plugins/openapi.js'

/**
 * The API's contract: GET /api/v1/openapi.json (OpenAPI 3.1, built from the route schemas) and
 * GET /docs/api, the same document as a readable page (server-rendered: no script, no CDN).
 */
export default async function openapiRoutes(app: FastifyInstance): Promise<void> {
  app.get(`${API_PREFIX}/openapi.json`, { schema: { hide: true } }, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return app.swagger()
  })

  app.get('/docs/api', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300')
    return reply.page('api/reference', { operations: operationsOf(app.swagger()) })
  })
}
