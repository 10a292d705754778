import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Kiosk } from '../../db/database.js'
import { doorCode } from '../../kiosk/door-code.js'
import { authenticateKiosk, pairKiosk } from '../../kiosk/kiosk.service.js'
import { UserError } from '../../lib/errors.js'
import { localDay } from '../../lib/site-time.js'
import { currentSiteNotice } from '../../visitors/site-notice.service.js'
import { textFields } from '../schemas.js'
import kioskActionRoutes from './actions.js'
import doorRoutes from './door.js'
import invitationLinkRoutes from './invitation-links.js'
import kioskInvitationRoutes from './invitations.js'
import { qrDataUrl } from './qr.js'
import staffPinRoutes from './staff-pin.js'
import visitorLinkRoutes from './visitor-links.js'

/** The cookie that makes a browser a kiosk: only sent to /kiosk, never to staff or admin pages. */
export const KIOSK_COOKIE = 'br_kiosk'
const KIOSK_COOKIE_MAX_AGE = 400 * 24 * 60 * 60

declare module 'fastify' {
  interface FastifyRequest {
    /** The kiosk this request comes from (kiosk routes only). */
    kiosk: Kiosk | null
  }
}

/**
 * The kiosk tablet at an entrance: pairing with a code from an admin, then the full-screen kiosk
 * page and the JSON actions it calls. A kiosk token is accepted here and nowhere else.
 */
export default async function kioskRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, keys } = app.ctx
  app.decorateRequest('kiosk', null)
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
  })

  const pairPage = (reply: FastifyReply, data: Record<string, unknown> = {}) =>
    reply.page('kiosk/pair', { ...data })
  const setKioskCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(KIOSK_COOKIE, token, {
      path: '/kiosk',
      httpOnly: true,
      sameSite: 'strict',
      secure: 'auto',
      maxAge: KIOSK_COOKIE_MAX_AGE,
    })
  /**
   * The paired kiosk a request comes from. A browser keeps a cookie 400 days from when it was set,
   * however often it is sent: each contact that is recorded (every 30 s at most) sets it again, so a
   * tablet left on for years stays paired.
   */
  const pairedKioskOf = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = request.cookies[KIOSK_COOKIE]
    const found = await authenticateKiosk(db, token, clock.now())
    if (found?.recorded) setKioskCookie(reply, token!)
    return found?.kiosk
  }

  app.get('/kiosk', async (request, reply) => {
    const kiosk = await pairedKioskOf(request, reply)
    if (!kiosk) {
      if (request.cookies[KIOSK_COOKIE]) reply.clearCookie(KIOSK_COOKIE, { path: '/kiosk' })
      return pairPage(reply)
    }
    const notice = await currentSiteNotice(db)
    return reply.page('kiosk/kiosk', {
      kiosk,
      notice: notice ?? null,
      today: localDay(clock.now(), config.TIME_ZONE),
    })
  })

  app.post<{ Body: { code: string } }>(
    '/kiosk/pair',
    {
      preValidation: app.csrfProtection,
      schema: { body: textFields(['code'], [], 40) },
      // 40-bit codes: a handful of tries a minute per address cannot find one in 10 minutes.
      config: { rateLimit: { max: 10, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      try {
        const { token } = await pairKiosk(db, keys.kiosk, {
          code: request.body.code,
          at: clock.now(),
          context: request.auditContext,
        })
        setKioskCookie(reply, token)
        return reply.redirect('/kiosk', 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode)
        return pairPage(reply, { errors: { code: error.message }, values: request.body })
      }
    },
  )

  app.get('/kiosk/manifest.webmanifest', async (_request, reply) => {
    reply.type('application/manifest+json').header('cache-control', 'public, max-age=3600')
    return {
      id: '/kiosk',
      name: `${config.SITE_NAME} kiosk`,
      short_name: 'Kiosk',
      description: 'Sign in and out at the entrance.',
      start_url: '/kiosk',
      scope: '/kiosk',
      display: 'fullscreen',
      background_color: config.THEME_COLOR,
      theme_color: config.THEME_COLOR,
      icons: [
        { src: app.assets.url('icons/icon-192.png'), sizes: '192x192', type: 'image/png', purpose: 'any' },
        { src: app.assets.url('icons/icon-512.png'), sizes: '512x512', type: 'image/png', purpose: 'any' },
      ],
    }
  })

  // The QR decoder the kiosk loads when the browser has no BarcodeDetector (most desktop and
  // Linux tablets' browsers): the jsQR library's own browser build, unchanged.
  const jsqrFile = createRequire(import.meta.url).resolve('jsqr')
  app.get('/kiosk/jsqr.js', async (_request, reply) => {
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=86400')
    return readFile(jsqrFile)
  })

  await app.register(visitorLinkRoutes)
  await app.register(invitationLinkRoutes)
  await app.register(staffPinRoutes)
  await app.register(doorRoutes)

  // Everything below needs a paired kiosk: its token is the credential, its CSRF token guards changes.
  app.register(async (paired) => {
    paired.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      const kiosk = await pairedKioskOf(request, reply)
      if (!kiosk)
        throw new UserError(
          401,
          'This kiosk is not paired any more. Ask an administrator for a pairing code.',
        )
      request.kiosk = kiosk
    })

    paired.get('/kiosk/api/state', async (request, reply) => {
      const notice = await currentSiteNotice(db)
      return {
        kiosk: request.kiosk!.name,
        today: localDay(clock.now(), config.TIME_ZONE),
        notice: notice ? { id: notice.id, text: notice.text } : null,
        csrf: reply.csrfToken(),
      }
    })

    paired.get('/kiosk/api/door-code', async (request) => {
      const now = clock.now()
      const code = doorCode(keys.kiosk, request.kiosk!, now)
      const url = `${config.PUBLIC_URL}/door/${code.code}`
      return { url, qr: await qrDataUrl(url), changesAt: code.changesAt, expiresAt: code.expiresAt, now }
    })

    await paired.register(kioskActionRoutes)
    await paired.register(kioskInvitationRoutes)
  })
}
