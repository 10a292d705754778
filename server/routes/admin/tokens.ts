import type { FastifyInstance, FastifyReply } from 'fastify'
import {
  createIntegrationToken,
  listTokens,
  revokeToken,
  TokenFormError,
} from '../../identity/integration-token.service.js'
import { roles } from '../../identity/roles.js'
import { UserError } from '../../lib/errors.js'
import { idParams, textFields } from '../schemas.js'
import { adminActor } from './shared.js'

/** /admin/tokens: integration tokens for the JSON API, created once and revocable. */
export default async function tokenRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock } = app.ctx
  const csrf = { preValidation: app.csrfProtection }

  const tokensPage = async (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('admin/tokens', { tokens: await listTokens(db), roles, newToken: null, ...data })

  app.get('/tokens', async (_request, reply) => tokensPage(reply))

  app.post<{ Body: { name: string; role: string } }>(
    '/tokens',
    { ...csrf, schema: { body: textFields(['name', 'role'], [], 120) } },
    async (request, reply) => {
      try {
        const { token, row } = await createIntegrationToken(db, adminActor(request, clock), request.body)
        // Shown once, on this response only: never stored in the session or a redirect.
        return await tokensPage(reply, { newToken: { token, name: row.name, role: row.role } })
      } catch (error) {
        if (!(error instanceof TokenFormError)) throw error
        reply.code(422)
        return tokensPage(reply, { errors: error.errors, values: request.body })
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/tokens/:id/revoke',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      try {
        const row = await revokeToken(db, adminActor(request, clock), request.params.id)
        request.flash('info', `The token “${row.name}” no longer works.`)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/admin/tokens', 303)
    },
  )
}
