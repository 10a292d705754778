import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import {
  allKiosks,
  createKiosk,
  endKiosk,
  type KioskActor,
  PAIRING_CODE_MS,
  renewPairingCode,
} from '../../kiosk/kiosk.service.js'
import { UserError } from '../../lib/errors.js'
import { currentSiteNotice, setSiteNotice } from '../../visitors/site-notice.service.js'
import { idParams, textFields } from '../schemas.js'

/** Admin pages (under /admin, admins only) for kiosks (create, pair, unpair) and the site notice visitors accept. */
export default async function adminKioskRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, keys, config } = app.ctx
  const csrf = { preValidation: app.csrfProtection }
  const actor = (request: FastifyRequest): KioskActor => ({
    personId: request.person!.id,
    at: clock.now(),
    context: request.auditContext,
  })

  const page = async (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('admin/kiosks', {
      kiosks: await allKiosks(db),
      notice: await currentSiteNotice(db),
      now: clock.now(),
      publicUrl: config.PUBLIC_URL,
      newCode: null,
      codeMinutes: PAIRING_CODE_MS / 60_000,
      ...data,
    })

  app.get('/kiosks', async (_request, reply) => page(reply))

  app.post<{ Body: { name: string } }>(
    '/kiosks',
    { ...csrf, schema: { body: textFields(['name'], [], 200) } },
    async (request, reply) => {
      try {
        const { kiosk, code } = await createKiosk(db, keys.kiosk, actor(request), request.body.name)
        // Shown once, on this response only.
        return await page(reply, { newCode: { code, kiosk: kiosk.name } })
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode)
        return page(reply, { errors: { name: error.message }, values: request.body })
      }
    },
  )

  app.post<{ Params: { id: number } }>(
    '/kiosks/:id/pairing-code',
    { ...csrf, schema: { params: idParams } },
    async (request, reply) => {
      const code = await renewPairingCode(db, keys.kiosk, actor(request), request.params.id)
      const kiosk = (await allKiosks(db)).find((k) => k.id === request.params.id)
      return page(reply, { newCode: { code, kiosk: kiosk?.name ?? '' } })
    },
  )

  for (const [action, how, said] of [
    ['unpair', 'unpaired', 'is unpaired: its tablet shows the pairing screen at its next request.'],
    ['remove', 'removed', 'is removed.'],
  ] as const) {
    app.post<{ Params: { id: number } }>(
      `/kiosks/:id/${action}`,
      { ...csrf, schema: { params: idParams } },
      async (request, reply) => {
        const kiosk = await endKiosk(db, actor(request), request.params.id, how)
        request.flash('info', `The kiosk “${kiosk.name}” ${said}`)
        return reply.redirect('/admin/kiosks', 303)
      },
    )
  }

  app.post<{ Body: { text?: string } }>(
    '/site-notice',
    { ...csrf, schema: { body: textFields([], ['text'], 5000) } },
    async (request, reply) => {
      const notice = await setSiteNotice(db, actor(request), request.body.text ?? '')
      request.flash(
        'info',
        notice
          ? `Site notice version ${notice.id} saved: visitors accept it at the kiosk.`
          : 'Site notice turned off.',
      )
      return reply.redirect('/admin/kiosks', 303)
    },
  )
}
