import { readFile } from 'node:fs/promises'
import type { FastifyInstance } from 'fastify'
import { refuseSelfSignIn } from '../../kiosk/door.service.js'
import { UserError } from '../../lib/errors.js'
import { clientMessage } from '../../lib/http-errors.js'
import {
  answerPushAction,
  checkSubscription,
  type PushAction,
  pushEnabled,
  type SubscriptionInput,
  subscribePush,
  unsubscribePush,
} from '../../push/push.service.js'
import { buildServiceWorker, serviceWorkerPath } from '../../pwa/build-service-worker.js'
import { idempotent } from '../../register/idempotency.js'
import { replayTap } from '../../register/offline-replay.js'
import type { Presence } from '../../register/register.service.js'
import { refusedForGood } from '../offline-queue.js'

const presenceJson = (p: Presence) => ({
  state: p.state,
  since: p.state === 'out' ? null : p.visit.signed_in_at,
})

const csrfField = { _csrf: { type: 'string', maxLength: 200 } } as const

/**
 * The installable app: web app manifest, service worker, offline tap replay, and Web Push
 * (subscriptions from the profile page, answers from notification buttons).
 */
export default async function pwaRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events, keys } = app.ctx
  const site = { timeZone: config.TIME_ZONE }

  app.get('/manifest.webmanifest', async (_request, reply) => {
    reply.type('application/manifest+json').header('cache-control', 'public, max-age=3600')
    const icon = (file: string, size: number, purpose: string) => ({
      src: app.assets.url(`icons/${file}`),
      sizes: `${size}x${size}`,
      type: 'image/png',
      purpose,
    })
    return {
      id: '/',
      name: config.SITE_NAME,
      short_name: config.SITE_NAME.length > 12 ? 'Register' : config.SITE_NAME,
      description: 'Sign in and out of the building with one tap.',
      start_url: '/',
      scope: '/',
      display: 'standalone',
      orientation: 'portrait',
      background_color: config.THEME_COLOR,
      theme_color: config.THEME_COLOR,
      icons: [
        icon('icon-192.png', 192, 'any'),
        icon('icon-512.png', 512, 'any'),
        icon('icon-maskable-512.png', 512, 'maskable'),
      ],
    }
  })

  // `npm run build` makes the service worker; in development (tsx) it is built on first request.
  let building: Promise<unknown> | undefined
  app.get('/sw.js', async (request, reply) => {
    let source: string
    try {
      source = await readFile(serviceWorkerPath, 'utf8')
    } catch {
      building ??= buildServiceWorker().catch((err: unknown) => {
        request.log.error({ err }, 'could not build the service worker')
        building = undefined
      })
      await building
      source = await readFile(serviceWorkerPath, 'utf8').catch(() => {
        throw new UserError(404, 'The service worker is not built yet. Run "npm run build".')
      })
    }
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache')
    return source
  })

  // Notification buttons: the signed token in the push payload is the authority, not cookies, so
  // "I've left" works from the lock screen and a cross-site page cannot forge it.
  app.post<{ Body: { token: string; action: PushAction } }>(
    '/push/action',
    {
      schema: {
        body: {
          type: 'object',
          required: ['token', 'action'],
          additionalProperties: false,
          properties: {
            token: { type: 'string', minLength: 10, maxLength: 400 },
            action: { type: 'string', enum: ['left', 'still-here'] },
          },
        },
      },
      config: { rateLimit: { max: 30, timeWindow: '1 minute' } },
    },
    async (request) => {
      const now = clock.now()
      const result = await answerPushAction(
        db,
        {
          key: keys.links,
          token: request.body.token,
          action: request.body.action,
          now,
          context: request.auditContext,
        },
        site,
      )
      // After the commit, to every process's boards (as taps are announced).
      if (result.changed) events.emit('change', { personId: result.personId, action: 'signed-out', at: now })
      if (result.stillHere) events.announceStillHere(result.personId, now)
      return { ...presenceJson(result.presence), changed: result.changed, message: result.message }
    },
  )

  app.register(async (signedIn) => {
    signedIn.addHook('preHandler', app.requireCookiePerson)
    const csrf = { preValidation: app.csrfProtection }

    signedIn.post<{
      Body: { action: 'sign-in' | 'sign-out'; at: number; sentAt?: number; key: string; pageDay?: string }
    }>(
      '/taps',
      {
        ...csrf,
        // The page reloads after a tap is dropped: whatever refused it (the door-code rule, the
        // schema, the tap's own checks), the flash is the only place the person learns why.
        onError: async (request, _reply, error) => {
          if (refusedForGood(error)) request.flash('error', clientMessage(error))
        },
        schema: {
          body: {
            type: 'object',
            required: ['action', 'at', 'key'],
            additionalProperties: false,
            properties: {
              ...csrfField,
              action: { type: 'string', enum: ['sign-in', 'sign-out'] },
              at: { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 },
              sentAt: { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 },
              key: { type: 'string', minLength: 1, maxLength: 200 },
              pageDay: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            },
          },
        },
      },
      async (request) => {
        const now = clock.now()
        const person = request.person!
        if (request.body.action === 'sign-in') refuseSelfSignIn(config.REQUIRE_DOOR_CODE, 422)
        return idempotent(
          db,
          {
            deviceId: request.device!.id,
            key: `tap:${request.body.key}`,
            at: now,
            // A resend of the same tap carries a fresh page token and send time; the tap is the rest.
            request: {
              method: request.method,
              path: request.url,
              body: { action: request.body.action, at: request.body.at, pageDay: request.body.pageDay },
            },
          },
          async () => {
            const result = await replayTap(
              db,
              {
                personId: person.id,
                action: request.body.action,
                at: request.body.at,
                sentAt: request.body.sentAt,
                pageDay: request.body.pageDay,
                now,
                context: request.auditContext,
              },
              site,
            )
            events.announceTap(
              person.id,
              { changed: result.applied, in: request.body.action === 'sign-in' },
              request.body.at,
            )
            return { ...presenceJson(result.presence), applied: result.applied, message: result.message }
          },
        ).then((answer) => {
          // The page reloads after syncing; the flash tells the person what became of the tap.
          request.flash(answer.applied ? 'info' : 'error', answer.message)
          return answer
        })
      },
    )

    // web/queue.js asks for a fresh token when the one it kept has died with its session; a device
    // no longer signed in is sent to the login page instead (preHandler above). A POST, so the login
    // page never takes it for a page to return to; no token of its own (the one it kept is dead):
    // it changes nothing in the register, and only this site's pages can read the answer.
    signedIn.post('/taps/token', async (_request, reply) => {
      reply.header('cache-control', 'no-store')
      return { csrf: reply.csrfToken() }
    })

    const subscriptionBody = {
      type: 'object',
      required: ['endpoint', 'keys'],
      properties: {
        ...csrfField,
        endpoint: { type: 'string', minLength: 10, maxLength: 2000 },
        expirationTime: { type: ['number', 'null'] },
        keys: {
          type: 'object',
          required: ['p256dh', 'auth'],
          properties: {
            p256dh: { type: 'string', maxLength: 200 },
            auth: { type: 'string', maxLength: 100 },
          },
        },
      },
    } as const

    signedIn.post<{ Body: SubscriptionInput }>(
      '/push/subscriptions',
      {
        ...csrf,
        schema: { body: subscriptionBody },
        config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
      },
      async (request, reply) => {
        const subscription = checkSubscription(request.body, config.NODE_ENV === 'production')
        await subscribePush(db, {
          personId: request.person!.id,
          deviceId: request.device!.id,
          subscription,
          at: clock.now(),
          context: request.auditContext,
        })
        reply.code(201)
        return { enabled: true, message: 'Reminders will come to this device as notifications.' }
      },
    )

    signedIn.post<{ Body: { endpoint: string } }>(
      '/push/subscriptions/remove',
      {
        ...csrf,
        schema: {
          body: {
            type: 'object',
            required: ['endpoint'],
            properties: { ...csrfField, endpoint: { type: 'string', maxLength: 2000 } },
          },
        },
      },
      async (request) => {
        await unsubscribePush(db, {
          personId: request.person!.id,
          endpoint: request.body.endpoint,
          at: clock.now(),
          context: request.auditContext,
        })
        return { enabled: false, message: 'Notifications are off on this device.' }
      },
    )

    signedIn.get('/push/status', async (request) => ({
      enabled: await pushEnabled(db, request.person!.id, request.device!.id),
      publicKey: config.VAPID_PUBLIC_KEY,
    }))
  })
}
