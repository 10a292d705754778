import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { UserError } from '../../lib/errors.js'
import { idSchema } from '../../lib/ids.js'
import { erasePerson, planErasure } from '../../privacy/erasure.service.js'
import { type ExportFormat, exportPersonData } from '../../privacy/export.service.js'
import { privacyNotice } from '../../privacy/notice.js'
import { fireListSettings } from '../../reception/presence.service.js'
import { adminActor } from '../admin/shared.js'
import { idParams } from '../schemas.js'

const formatParams = {
  type: 'object',
  required: ['format'],
  properties: { format: { type: 'string', enum: ['json', 'csv'] } },
} as const
const personFormatParams = {
  type: 'object',
  required: ['id', 'format'],
  properties: {
    id: idSchema,
    format: formatParams.properties.format,
  },
} as const

/**
 * Personal data: downloads (a person's own at /profile/export.json|csv, an admin's for anyone) and
 * an admin's erasure of a person (/admin/people/:id/erase: the dry run, then the erasure).
 */
export default async function privacyRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  // Read once: the file and the retention settings do not change while the process runs.
  const notice = privacyNotice(config)

  // Public: linked from the login page, so people can read it before they give a contact.
  app.get('/privacy', async (_request, reply) => reply.page('privacy/notice', { notice }))

  const send = async (
    request: FastifyRequest,
    reply: FastifyReply,
    personId: number,
    format: ExportFormat,
  ) => {
    const file = await exportPersonData(db, {
      personId,
      format,
      by: request.person!.id,
      at: clock.now(),
      context: request.auditContext,
    })
    return reply
      .header('cache-control', 'no-store')
      .header('content-type', file.contentType)
      .header('content-disposition', `attachment; filename="${file.filename}"`)
      .send(file.body)
  }

  app.register(async (own) => {
    own.addHook('preValidation', app.requireCookiePerson)
    own.get<{ Params: { format: ExportFormat } }>(
      '/profile/export.:format',
      { schema: { params: formatParams } },
      async (request, reply) => send(request, reply, request.person!.id, request.params.format),
    )
  })

  app.register(async (admin) => {
    admin.addHook('preValidation', app.requireCookiePerson)
    admin.addHook('preValidation', app.requireRole('admin'))
    admin.get<{ Params: { id: number; format: ExportFormat } }>(
      '/admin/people/:id/export.:format',
      { schema: { params: personFormatParams } },
      async (request, reply) => send(request, reply, request.params.id, request.params.format),
    )

    /** A refusal (last admin, oneself, already erased) goes back to the person page, said why. */
    const refused = (request: FastifyRequest, reply: FastifyReply, id: number, error: unknown) => {
      if (!(error instanceof UserError) || error.statusCode !== 409) throw error
      request.flash('error', error.message)
      return reply.redirect(`/admin/people/${id}`, 303)
    }

    admin.get<{ Params: { id: number } }>(
      '/admin/people/:id/erase',
      { schema: { params: idParams } },
      async (request, reply) => {
        try {
          const plan = await planErasure(
            db,
            adminActor(request, clock),
            request.params.id,
            fireListSettings(config),
          )
          return reply.page('admin/erase', { plan })
        } catch (error) {
          return refused(request, reply, request.params.id, error)
        }
      },
    )

    admin.post<{ Params: { id: number } }>(
      '/admin/people/:id/erase',
      { preValidation: app.csrfProtection, schema: { params: idParams } },
      async (request, reply) => {
        const { id } = request.params
        try {
          await erasePerson(db, adminActor(request, clock), id, fireListSettings(config))
        } catch (error) {
          return refused(request, reply, id, error)
        }
        request.flash('info', `Erased person #${id}. Their visits are kept without their name.`)
        return reply.redirect(`/admin/people/${id}`, 303)
      },
    )
  })
}
