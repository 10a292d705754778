import type { FastifyInstance } from 'fastify'
import { issueDevice } from '../../identity/device.service.js'
import { UserError } from '../../lib/errors.js'
import {
  beginSsoLogin,
  completeSsoLogin,
  type PendingSsoLogin,
  SsoRefusedError,
} from '../../sso/sso.service.js'

declare module '@fastify/secure-session' {
  interface SessionData {
    /** An organisation sign-in under way: state, nonce and PKCE verifier until the callback. */
    ssoLogin: PendingSsoLogin
  }
}

const params = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', maxLength: 40 } },
} as const
const strict = { rateLimit: { max: 30, timeWindow: '1 minute' } }

/** Organisation sign-in: /login/sso/:id sends the browser to the provider, /callback brings it back signed in. */
export default async function ssoRoutes(app: FastifyInstance): Promise<void> {
  const { config, db, clock, sso, identity } = app.ctx

  app.get<{ Params: { id: string }; Querystring: { next?: string } }>(
    '/login/sso/:id',
    {
      schema: {
        params,
        querystring: { type: 'object', properties: { next: { type: 'string', maxLength: 500 } } },
      },
      config: strict,
    },
    async (request, reply) => {
      const provider = sso.provider(request.params.id)
      const { url, pending } = await beginSsoLogin(sso, {
        provider,
        publicUrl: config.PUBLIC_URL,
        returnTo: request.query.next ?? request.session.get('returnTo'),
        now: clock.now(),
      })
      request.session.set('ssoLogin', pending)
      reply.header('cache-control', 'no-store')
      return reply.redirect(url.href, 303)
    },
  )

  app.get<{ Params: { id: string } }>(
    '/login/sso/:id/callback',
    { schema: { params }, config: strict },
    async (request, reply) => {
      const provider = sso.provider(request.params.id)
      const pending = request.session.get('ssoLogin')
      // Used once, whatever happens next: a replayed callback finds nothing to complete.
      request.session.set('ssoLogin', undefined)
      reply.header('cache-control', 'no-store')
      try {
        const { person, how } = await completeSsoLogin(
          {
            db,
            clients: sso,
            defaultRegion: config.DEFAULT_PHONE_REGION,
            adminContacts: identity.adminContacts ?? [],
          },
          {
            provider,
            pending,
            currentUrl: new URL(request.url, config.PUBLIC_URL),
            now: clock.now(),
            context: request.auditContext,
          },
        )
        const { token } = await issueDevice(db, {
          personId: person.id,
          kind: 'browser',
          at: clock.now(),
          context: request.auditContext,
          signedInWith: 'sso',
        })
        reply.setDeviceCookie(token)
        request.session.set('returnTo', undefined)
        request.flash(
          'info',
          `Welcome${how === 'created' ? '' : ' back'}, ${person.first_name}. This device will remember you.${how === 'created' ? ' You can add your mobile number on your profile.' : ''}`,
        )
        return reply.redirect(pending!.returnTo, 303)
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        reply.code(error.statusCode)
        return reply.page('sso/refused', {
          message: error.message,
          reason: error instanceof SsoRefusedError ? error.reason : 'failed',
        })
      }
    },
  )
}
