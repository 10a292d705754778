import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { authenticateIntegrationToken } from '../../identity/integration-token.service.js'
import { UserError } from '../../lib/errors.js'
import { idFromText, MAX_ID } from '../../lib/ids.js'
import {
  type DirectoryActor,
  type ScimResult,
  scimCreateUser,
  scimDeleteUser,
  scimGetUser,
  scimListUsers,
  scimPatchUser,
  scimReplaceUser,
} from '../../scim/scim.service.js'
import { ScimError } from '../../scim/scim-error.js'
import { LIST_SCHEMA, userResource } from '../../scim/scim-user.js'

const SCIM_JSON = 'application/scim+json; charset=utf-8'

declare module 'fastify' {
  interface FastifyRequest {
    /** The directory sync token a /scim/v2 request came with. */
    scimTokenId: number | null
  }
}

/**
 * SCIM 2.0 directory sync at /scim/v2 for Entra ID and Okta provisioning: Users create, get, list
 * (filter userName eq "…"), replace, patch, delete, with a directory sync token an admin created.
 * Every answer, errors included, is SCIM JSON.
 */
export default async function scimRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  const base = `${config.PUBLIC_URL}/scim/v2`
  app.decorateRequest('scimTokenId', null)
  // Entra and Okta send application/scim+json; read it as JSON, like application/json.
  app.addContentTypeParser(
    'application/scim+json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('error', 'error'),
  )

  app.addHook('onRequest', async (request) => {
    const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1]
    const found = await authenticateIntegrationToken(db, token, clock.now(), 'scim')
    if (!found)
      throw new ScimError(401, 'A valid directory sync token is required (Authorization: Bearer …).')
    request.scimTokenId = found.id
  })
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store')
    if (reply.statusCode !== 204) reply.type(SCIM_JSON)
    return payload
  })

  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    let scim: ScimError
    if (error instanceof ScimError) scim = error
    else if (
      error.validation ||
      error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
      error instanceof SyntaxError
    )
      scim = new ScimError(400, `The request is not valid SCIM: ${error.message}`, 'invalidSyntax')
    else if (
      error instanceof UserError ||
      (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
    ) {
      const status = error.statusCode ?? 400
      scim = new ScimError(
        ([400, 401, 403, 404, 409, 413, 415, 429] as const).find((s) => s === status) ?? 400,
        error.message,
      )
    } else {
      request.log.error({ err: error }, 'SCIM request failed')
      scim = new ScimError(500, 'Something went wrong on our side. Nothing was changed; please retry.')
    }
    if (scim.status === 401) reply.header('www-authenticate', 'Bearer realm="scim"')
    return reply.code(scim.status).type(SCIM_JSON).send(scim.body())
  })
  app.setNotFoundHandler(async (request, reply) =>
    reply
      .code(404)
      .type(SCIM_JSON)
      .send(new ScimError(404, `There is no SCIM resource at ${request.url}.`).body()),
  )

  const actor = (request: FastifyRequest): DirectoryActor => ({
    tokenId: request.scimTokenId!,
    at: clock.now(),
    context: request.auditContext,
    defaultRegion: config.DEFAULT_PHONE_REGION,
  })
  const resource = (result: ScimResult) => userResource(result.user, result.contacts, base)
  /** SCIM ids are our person ids; anything else names no user. */
  const userId = (id: string): number => {
    const found = idFromText(id)
    if (found === undefined) throw new ScimError(404, `User ${id} not found.`)
    return found
  }
  /** A visit the directory closed changes who is inside: tell the live board. */
  const announce = (result: { closedVisit?: { person_id: number } }) => {
    if (result.closedVisit)
      app.ctx.events.emit('change', {
        personId: result.closedVisit.person_id,
        action: 'closed',
        at: clock.now(),
      })
  }
  const idParams = { type: 'object', properties: { id: { type: 'string', maxLength: 40 } } } as const

  app.get('/ServiceProviderConfig', async () => ({
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 200 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A directory sync token from Admin → Directory sync',
      },
    ],
  }))

  app.get<{ Querystring: { filter?: string; startIndex?: number; count?: number } }>(
    '/Users',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            filter: { type: 'string', maxLength: 500 },
            // Bound like ids: a page past any id is empty, and a number past a bigint is a database error.
            startIndex: { type: 'integer', minimum: 1, maximum: MAX_ID },
            count: { type: 'integer', minimum: 0, maximum: MAX_ID },
          },
        },
      },
    },
    async (request) => {
      const page = await scimListUsers(db, request.query)
      return {
        schemas: [LIST_SCHEMA],
        totalResults: page.total,
        startIndex: page.startIndex,
        itemsPerPage: page.users.length,
        Resources: page.users.map(resource),
      }
    },
  )

  app.get<{ Params: { id: string } }>('/Users/:id', { schema: { params: idParams } }, async (request) =>
    resource(await scimGetUser(db, userId(request.params.id))),
  )

  app.post('/Users', async (request, reply) => {
    const result = await scimCreateUser(db, actor(request), request.body)
    reply.code(201).header('location', `${base}/Users/${result.user.person_id}`)
    return resource(result)
  })

  app.put<{ Params: { id: string } }>('/Users/:id', { schema: { params: idParams } }, async (request) => {
    const result = await scimReplaceUser(db, actor(request), userId(request.params.id), request.body)
    announce(result)
    return resource(result)
  })

  app.patch<{ Params: { id: string } }>('/Users/:id', { schema: { params: idParams } }, async (request) => {
    const result = await scimPatchUser(db, actor(request), userId(request.params.id), request.body)
    announce(result)
    return resource(result)
  })

  app.delete<{ Params: { id: string } }>(
    '/Users/:id',
    { schema: { params: idParams } },
    async (request, reply) => {
      announce(await scimDeleteUser(db, actor(request), userId(request.params.id)))
      return reply.code(204).send()
    },
  )
}
