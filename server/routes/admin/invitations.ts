import multipart from '@fastify/multipart'
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify'
import { inProcessInvitationSender } from '../../../tasks/deliver-invitations.task.js'
import {
  checkImport,
  ImportRefused,
  type ImportReport,
  importInvitations,
  invitationDepsOf,
  invitationOverview,
  revokeInvitation,
  type SendBy,
} from '../../invitations/invitation.service.js'
import { MAX_CSV_BYTES, MAX_IMPORT_ROWS } from '../../invitations/invitation-csv.js'
import { UserError } from '../../lib/errors.js'
import { FORM_USED, newFormKey, oncePerForm, withFormKey } from '../form-key.js'
import { idParams } from '../schemas.js'
import { adminActor } from './shared.js'

const tooLarge = `That list is too large: at most ${MAX_CSV_BYTES / 1024} KB (about ${MAX_IMPORT_ROWS} people). Split it into several imports.`

/** The import form's fields, pasted (urlencoded or multipart) or uploaded (multipart). */
type ImportBody = { csv?: string; file?: unknown; sendBy?: string; action?: string; formKey?: string }

/** /admin/invitations: invite people in bulk from a CSV; each gets a one-time sign-in link. */
export default async function invitationRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config } = app.ctx
  const deps = invitationDepsOf(app.ctx)
  const csrf = { preValidation: app.csrfProtection }
  const sender = inProcessInvitationSender({ ...app.ctx, log: app.log })
  // Sends must finish with the database open.
  app.addHook('preClose', async () => sender.close())

  // Uploads only here (encapsulated): the fields land in the body, so the CSRF check reads them as
  // from any form; the role check (the parent's hooks) runs before anything is read.
  await app.register(multipart, {
    attachFieldsToBody: 'keyValues',
    limits: { fileSize: MAX_CSV_BYTES, fieldSize: MAX_CSV_BYTES, files: 1, fields: 10, parts: 12 },
  })

  const page = async (
    reply: FastifyReply,
    data: { values?: Record<string, string>; errors?: Record<string, string>; report?: ImportReport } = {},
  ) => {
    return reply.page('admin/invitations', {
      // Each page shows a fresh key: the import it sends runs once however often it is sent.
      formKey: newFormKey(),
      values: { sendBy: 'phone', ...data.values },
      errors: data.errors ?? {},
      report: data.report ?? null,
      ...(await invitationOverview(db, clock.now())),
      days: config.INVITATION_DAYS,
      textsPerDay: config.INVITATION_TEXTS_PER_DAY,
      maxRows: MAX_IMPORT_ROWS,
      maxKb: MAX_CSV_BYTES / 1024,
    })
  }

  // Too large an upload is refused by the parser before the route runs: answer with the form.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.statusCode !== 413) throw error
    request.log.info({ code: error.code }, 'invitation list too large')
    reply.code(413)
    return page(reply, { errors: { file: tooLarge } })
  })

  app.get('/invitations', async (_request, reply) => {
    // Invitations left waiting (a process stopped mid-way) go out now.
    sender.send()
    return page(reply)
  })

  app.post<{ Body: ImportBody }>(
    '/invitations',
    {
      ...csrf,
      schema: {
        body: withFormKey({
          type: 'object',
          properties: {
            _csrf: { type: 'string', maxLength: 200 },
            csv: { type: 'string', maxLength: MAX_CSV_BYTES },
            sendBy: { type: 'string', maxLength: 10 },
            action: { type: 'string', maxLength: 10 },
          },
        }),
      },
      // Each import can text hundreds of numbers: a slip of the finger must not repeat it.
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const body = request.body ?? {}
      const file = Buffer.isBuffer(body.file)
        ? body.file.toString('utf8')
        : typeof body.file === 'string'
          ? body.file
          : ''
      const csv = file.trim() !== '' ? file : (body.csv ?? '')
      const sendBy: SendBy = body.sendBy === 'email' ? 'email' : 'phone'
      const values = { csv, sendBy }
      const field = file.trim() !== '' ? 'file' : 'csv'
      // The parser cuts a text field at the limit rather than refusing it.
      if (Buffer.byteLength(csv) >= MAX_CSV_BYTES) {
        reply.code(413)
        return page(reply, { values: { sendBy }, errors: { [field]: tooLarge } })
      }
      if (csv.includes('\u0000') || csv.includes('\uFFFD')) {
        reply.code(422)
        return page(reply, {
          values: { sendBy },
          errors: {
            [field]:
              'That is not a CSV text file. In Excel or Numbers, save the sheet as “CSV UTF-8”, then choose that file.',
          },
        })
      }
      if (body.action === 'check') {
        const report = await checkImport(deps, { csv, sendBy })
        reply.code(report.problemRows > 0 || report.message ? (report.status ?? 422) : 200)
        return page(reply, { values, report, errors: report.message ? { csv: report.message } : {} })
      }
      try {
        // The form sent twice (a double click, a resend) imports once and answers as the first
        // did, rather than with every line a "Duplicate" of the first copy's invitations.
        const once = await oncePerForm(
          db,
          request,
          { key: body.formKey, fields: values, at: () => clock.now() },
          async () => {
            const { report, invitations } = await importInvitations(deps, adminActor(request, clock), {
              csv,
              sendBy,
            })
            return { count: invitations.length, texts: report.texts, emails: report.emails }
          },
        )
        if (once.reused) {
          reply.code(422)
          return page(reply, { values, errors: { csv: FORM_USED } })
        }
        sender.send()
        const { count, texts, emails } = once.value
        request.flash(
          'info',
          `Sending ${count} invitation${count === 1 ? '' : 's'}: ${texts} by text, ${emails} by email. This page shows each as it goes.`,
        )
        return reply.redirect('/admin/invitations', 303)
      } catch (error) {
        if (!(error instanceof ImportRefused)) throw error
        reply.code(error.statusCode)
        return page(reply, { values, report: error.report, errors: { csv: error.message } })
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/invitations/:id/revoke',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      try {
        const invitation = await revokeInvitation(db, adminActor(request, clock), request.params.id)
        request.flash(
          'info',
          `The invitation of ${invitation.first_name} ${invitation.last_name} no longer works.`,
        )
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        request.flash('error', error.message)
      }
      return reply.redirect('/admin/invitations', 303)
    },
  )
}
