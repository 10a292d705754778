import type { FastifyInstance } from 'fastify'
import { UserError } from '../../lib/errors.js'
import { formatTime } from '../../lib/site-time.js'
import { signOutVisitor, visitorById } from '../../visitors/visitor.service.js'
import { readVisitorToken } from '../../visitors/visitor-links.js'

const tokenParams = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', maxLength: 64 } },
} as const

/**
 * A visitor's own sign-out link (in their confirmation and on their badge's QR code). The signed
 * token is the credential; opening the link only shows a button, so link scanners change nothing.
 */
export default async function visitorLinkRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, keys, events } = app.ctx

  const visitorOf = async (token: string) => {
    const id = readVisitorToken(keys.links, token, 'out')
    const visitor = id === undefined ? undefined : await visitorById(db, id)
    if (!visitor || visitor.signed_in_at === null)
      throw new UserError(404, 'This sign-out link is not valid. Sign out at the kiosk or at reception.')
    return visitor
  }

  app.get<{ Params: { token: string } }>(
    '/v/:token',
    { schema: { params: tokenParams } },
    async (request, reply) => {
      const visitor = await visitorOf(request.params.token)
      reply.header('cache-control', 'no-store').header('x-robots-tag', 'noindex')
      return reply.page('kiosk/visitor-out', { visitor, token: request.params.token, done: null })
    },
  )

  app.post<{ Params: { token: string } }>(
    '/v/:token',
    { schema: { params: tokenParams }, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const visitor = await visitorOf(request.params.token)
      const now = clock.now()
      const result = await signOutVisitor(db, {
        visitorId: visitor.id,
        at: now,
        now,
        closedBy: 'visitor',
        source: { via: 'kiosk', kiosk: null, personId: null, context: request.auditContext },
      })
      events.announceVisitor(visitor.id, { changed: result.changed, in: false }, now)
      reply.header('cache-control', 'no-store')
      return reply.page('kiosk/visitor-out', {
        visitor: result.visitor,
        token: request.params.token,
        done: result.changed
          ? `You signed out at ${formatTime(result.visitor.signed_out_at!, config.TIME_ZONE)}. Thank you for visiting.`
          : 'You were already signed out.',
      })
    },
  )
}
