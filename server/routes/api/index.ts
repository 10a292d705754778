import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Person } from '../../db/database.js'
import { requestCode, verifyCode } from '../../identity/code.service.js'
import { issueDevice } from '../../identity/device.service.js'
import { isoUtc } from '../../lib/site-time.js'
import { idempotent } from '../../register/idempotency.js'
import { type Presence, presenceOf, signIn, signOut } from '../../register/register.service.js'

const personJson = (p: Person) => ({ id: p.id, firstName: p.first_name, lastName: p.last_name })
const presenceJson = (p: Presence) => ({
  present: p.state === 'in',
  since: p.state === 'in' ? isoUtc(p.visit.signed_in_at) : null,
  ...(p.state === 'stale' ? { openVisitSince: isoUtc(p.visit.signed_in_at) } : {}),
})

const jsonBody = (required: string[], optional: string[] = []) => ({
  type: 'object',
  required,
  additionalProperties: false,
  properties: Object.fromEntries(
    [...required, ...optional].map((k) => [k, { type: 'string', maxLength: k === 'contact' ? 320 : 60 }]),
  ),
})

/** The JSON API under /api/v1, for the mobile app, kiosks and integrations. Bearer tokens only. */
export default async function apiRoutes(app: FastifyInstance): Promise<void> {
  const { identity, db, clock, config, events } = app.ctx
  const site = { timeZone: config.TIME_ZONE }

  app.register(async (open) => {
    open.post<{ Body: { contact: string } }>(
      '/auth/code',
      { schema: { body: jsonBody(['contact']) }, config: { rateLimit: { max: 10, timeWindow: '1 minute' } } },
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
        schema: { body: jsonBody(['contact', 'code'], ['firstName', 'lastName']) },
        config: { rateLimit: { max: 20, timeWindow: '1 minute' } },
      },
      async (request) => {
        const verified = await verifyCode(identity, {
          ...request.body,
          purpose: 'login',
          context: request.auditContext,
        })
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

    signedIn.get('/me', asPerson, async (request) => {
      const presence = await presenceOf(db, request.person!.id, clock.now(), site)
      return { person: personJson(request.person!), ...presenceJson(presence) }
    })

    const tap = (action: typeof signIn) => async (request: FastifyRequest) => {
      const now = clock.now()
      const key = request.headers['idempotency-key']
      return idempotent(
        db,
        { deviceId: request.device!.id, key: Array.isArray(key) ? key[0] : key, at: now },
        async () => {
          const result = await action(
            db,
            { personId: request.person!.id, now, context: request.auditContext },
            site,
          )
          events.announceTap(
            request.person!.id,
            { changed: result.changed, in: result.presence.state === 'in' },
            now,
          )
          return { ...presenceJson(result.presence), changed: result.changed, message: result.message }
        },
      )
    }
    signedIn.post('/sign-in', asPerson, tap(signIn))
    signedIn.post('/sign-out', asPerson, tap(signOut))
  })
}
