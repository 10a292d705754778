import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Person } from '../../db/database.js'
import { requestCode, verifyCode } from '../../identity/code.service.js'
import { issueDevice } from '../../identity/device.service.js'
import { gateSelfSignIn, refuseSelfSignIn } from '../../kiosk/door.service.js'
import { UserError } from '../../lib/errors.js'
import { isoUtc } from '../../lib/site-time.js'
import { idempotent } from '../../register/idempotency.js'
import { parseClientTime, replayTap } from '../../register/offline-replay.js'
import { type Presence, presenceOf, signIn, signOut } from '../../register/register.service.js'
import { assertCodeSignInAllowed } from '../../sso/sso.service.js'
import { codeRequestSchema, meSchema, signInSchema, signOutSchema, verifySchema } from './api.schemas.js'

const personJson = (p: Person) => ({ id: p.id, firstName: p.first_name, lastName: p.last_name })
const presenceJson = (p: Presence) => ({
  present: p.state === 'in',
  since: p.state === 'in' ? isoUtc(p.visit.signed_in_at) : null,
  ...(p.state === 'stale' ? { openVisitSince: isoUtc(p.visit.signed_in_at) } : {}),
})

/** The JSON API under /api/v1, for the mobile app, kiosks and integrations. Bearer tokens only. */
export default async function apiRoutes(app: FastifyInstance): Promise<void> {
  const { identity, db, clock, config, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE }

  app.register(async (open) => {
    open.post<{ Body: { contact: string } }>(
      '/auth/code',
      // The site-wide per-address limit only: see routes/auth/index.ts.
      { schema: codeRequestSchema },
      async (request, reply) => {
        await requestCode(identity, {
          contact: request.body.contact,
          purpose: 'login',
          context: request.auditContext,
        })
        reply.code(202)
        return { sent: true }
      },
    )

    open.post<{ Body: { contact: string; code: string; firstName?: string; lastName?: string } }>(
      '/auth/verify',
      {
        schema: verifySchema,
      },
      async (request) => {
        const verified = await verifyCode(identity, {
          ...request.body,
          purpose: 'login',
          context: request.auditContext,
        })
        assertCodeSignInAllowed(verified.person.role, app.ctx.config.SSO_REQUIRED_FOR_ROLES, app.ctx.sso)
        const { token } = await issueDevice(db, {
          personId: verified.person.id,
          kind: 'api',
          at: clock.now(),
          context: request.auditContext,
        })
        return { token, person: personJson(verified.person) }
      },
    )
  })

  app.register(async (signedIn) => {
    signedIn.addHook('preHandler', app.requireBearerPerson)
    // These act as the caller, so integration tokens (which are nobody) are refused per route.
    const asPerson = { preHandler: app.requirePerson }

    signedIn.get('/me', { ...asPerson, schema: meSchema }, async (request) => {
      const presence = await presenceOf(db, request.person!.id, clock.now(), site)
      return { person: personJson(request.person!), ...presenceJson(presence) }
    })

    const tap =
      (actionName: 'sign-in' | 'sign-out', action: typeof signIn) => async (request: FastifyRequest) => {
        const now = clock.now()
        const key = request.headers['idempotency-key']
        return idempotent(
          db,
          {
            deviceId: request.device!.id,
            key: Array.isArray(key) ? key[0] : key,
            at: now,
            request: { method: request.method, path: request.url, body: request.body },
          },
          async () => {
            const personId = request.person!.id
            const clientAt = (request.body as { at?: string } | undefined)?.at
            if (clientAt !== undefined) {
              // A tap with its own time follows the PWA's offline rules (server/register/offline-replay.ts).
              if (actionName === 'sign-in') refuseSelfSignIn(config.REQUIRE_DOOR_CODE, 403)
              const at = parseClientTime(clientAt)
              const replayed = await replayTap(
                db,
                { personId, action: actionName, at, now, context: request.auditContext },
                site,
              )
              if (replayed.superseded) throw new UserError(409, replayed.message)
              events.announceTap(
                personId,
                { changed: replayed.applied, in: replayed.presence.state === 'in' },
                at,
              )
              return {
                ...presenceJson(replayed.presence),
                changed: replayed.applied,
                message: replayed.message,
              }
            }
            const result = await action(db, { personId, now, context: request.auditContext }, site)
            events.announceTap(personId, { changed: result.changed, in: result.presence.state === 'in' }, now)
            return { ...presenceJson(result.presence), changed: result.changed, message: result.message }
          },
        )
      }
    // A tap may come with no body at all (the usual case): read that as {} before the schema does.
    const noBodyIsEmpty = async (request: FastifyRequest) => {
      request.body ??= {}
    }
    const tapRoute = { ...asPerson, preValidation: noBodyIsEmpty }
    signedIn.post(
      '/sign-in',
      { ...tapRoute, schema: signInSchema },
      tap('sign-in', gateSelfSignIn(config.REQUIRE_DOOR_CODE, signIn)),
    )
    signedIn.post('/sign-out', { ...tapRoute, schema: signOutSchema }, tap('sign-out', signOut))
  })
}
