import type { FastifyInstance, FastifyReply } from 'fastify'
import { directoryChanges } from '../../admin/audit-log.service.js'
import {
  createIntegrationToken,
  listTokens,
  revokeToken,
  TokenFormError,
} from '../../identity/integration-token.service.js'
import { UserError } from '../../lib/errors.js'
import { idParams, textFields } from '../schemas.js'
import { adminActor } from './shared.js'

/** /admin/directory: directory sync (SCIM) tokens, and what the directory changed. */
export default async function directoryRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  const csrf = { preValidation: app.csrfProtection }

  const directoryPage = async (reply: FastifyReply, data: Record<string, unknown> = {}) => {
    const changes = await directoryChanges(db)
    return reply.page('admin/directory', {
      scimUrl: `${config.PUBLIC_URL}/scim/v2`,
      tokens: await listTokens(db, 'scim'),
      changes: changes.map((row) => ({
        ...row,
        detail: JSON.parse(row.detail) as Record<string, unknown>,
      })),
      newToken: null,
      ...data,
    })
  }

  app.get('/directory', async (_request, reply) => directoryPage(reply))

  app.post<{ Body: { name: string } }>(
    '/directory/tokens',
    { ...csrf, schema: { body: textFields(['name'], [], 120) } },
    async (request, reply) => {
      try {
        const { token, row } = await createIntegrationToken(
          db,
          adminActor(request, clock),
          request.body,
          'scim',
        )
        // Shown once, on this response only.
        return await directoryPage(reply, { newToken: { token, name: row.name } })
      } catch (error) {
        if (!(error instanceof TokenFormError)) throw error
        reply.code(422)
        return directoryPage(reply, { errors: error.errors, values: request.body })
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/directory/tokens/:id/revoke',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      try {
        const row = await revokeToken(db, adminActor(request, clock), request.params.id, 'scim')
        request.flash('info', `The directory sync token “${row.name}” no longer works.`)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/admin/directory', 303)
    },
  )
}
