import swagger from '@fastify/swagger'
import fp from 'fastify-plugin'

/** The API's base path: only routes under it go into the document. */
export const API_PREFIX = '/api/v1'

/**
 * Collects the route schemas of /api/v1 into an OpenAPI 3.1 document (@fastify/swagger), served
 * at /api/v1/openapi.json. Registered before the routes, whose schemas it records as they are added.
 */
export default fp(
  async (app) => {
    const { config } = app.ctx
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: `${config.SITE_NAME} API`,
          version: '1',
          description:
            'The JSON API of Building Register: sign in and out, presence, visits. JSON in and out; errors as {"error": "<human message>"}.',
        },
        servers: [{ url: config.PUBLIC_URL }],
        tags: [
          { name: 'auth', description: 'Getting a device token with a one-time code.' },
          { name: 'register', description: 'Signing in and out as yourself.' },
          { name: 'reception', description: 'Who is inside (reception role or an integration token).' },
          { name: 'reports', description: 'Visits for a date range (admin role or an integration token).' },
        ],
        components: {
          securitySchemes: {
            bearerAuth: {
              type: 'http',
              scheme: 'bearer',
              description:
                'A device token from POST /api/v1/auth/verify, or an integration token made by an admin.',
            },
          },
        },
      },
      transform: ({ schema, url }) => ({
        schema: { ...schema, hide: schema?.hide || !url.startsWith(`${API_PREFIX}/`) },
        url,
      }),
    })
  },
  { name: 'openapi', dependencies: ['context'] },
)
