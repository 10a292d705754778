import type { FastifyInstance, FastifyReply } from 'fastify'
import { UserError } from '../../lib/errors.js'
import { formatTime } from '../../lib/site-time.js'
import type { InvitedVisitor } from '../../visitors/invitation.repository.js'
import {
  checkInInvitation,
  dayLabel,
  type InvitationState,
  invitationByToken,
  invitationLink,
  invitationState,
  requireUsableToday,
} from '../../visitors/invitation.service.js'
import { qrDataUrl, qrPng } from './qr.js'

const tokenParams = {
  type: 'object',
  required: ['token'],
  properties: { token: { type: 'string', maxLength: 64 } },
} as const

/**
 * A pre-registered visitor's invitation link. The 256-bit token is the credential; opening the
 * link only shows the invitation (its QR code for the kiosk, and on the day a button), so link
 * scanners change nothing. Tapping "I have arrived" on the day signs them in, once.
 */
export default async function invitationLinkRoutes(app: FastifyInstance): Promise<void> {
  const { db, clock, config, events } = app.ctx
  const tz = config.TIME_ZONE
  const notValid = () =>
    new UserError(404, 'This invitation link is not valid. Please sign in as a visitor at the entrance.')

  const page = async (
    reply: FastifyReply,
    visitor: InvitedVisitor,
    token: string,
    state: InvitationState,
    done: string | null = null,
  ) => {
    reply
      .header('cache-control', 'no-store')
      .header('x-robots-tag', 'noindex')
      .header('referrer-policy', 'no-referrer')
    const link = invitationLink(config.PUBLIC_URL, token)
    return reply.page('kiosk/invitation', {
      visitor,
      token,
      state,
      done,
      day: dayLabel(visitor.expected_day!, tz),
      hostName: visitor.hostFirstName === null ? '' : `${visitor.hostFirstName} ${visitor.hostLastName}`,
      // The QR code is only worth showing while it can still check them in.
      qr: state === 'today' || state === 'early' ? await qrDataUrl(link) : null,
    })
  }

  app.get<{ Params: { token: string } }>(
    '/i/:token',
    { schema: { params: tokenParams } },
    async (request, reply) => {
      const visitor = await invitationByToken(db, request.params.token)
      if (!visitor) throw notValid()
      const state = invitationState(visitor, clock.now(), tz)
      // A cancelled invitation shows nothing of the visit any more.
      if (state === 'cancelled') requireUsableToday(visitor, clock.now(), tz)
      return page(reply, visitor, request.params.token, state)
    },
  )

  app.get<{ Params: { token: string } }>(
    '/i/:token/qr.png',
    { schema: { params: tokenParams } },
    async (request, reply) => {
      const visitor = await invitationByToken(db, request.params.token)
      const state = visitor && invitationState(visitor, clock.now(), tz)
      if (state !== 'today' && state !== 'early') throw notValid()
      reply.type('image/png').header('cache-control', 'no-store').header('x-robots-tag', 'noindex')
      return qrPng(invitationLink(config.PUBLIC_URL, request.params.token))
    },
  )

  app.post<{ Params: { token: string } }>(
    '/i/:token',
    { schema: { params: tokenParams }, config: { rateLimit: { max: 20, timeWindow: '1 minute' } } },
    async (request, reply) => {
      const visitor = await invitationByToken(db, request.params.token)
      if (!visitor) throw notValid()
      const now = clock.now()
      const arrived = await checkInInvitation(db, {
        visitor,
        now,
        timeZone: tz,
        source: { via: 'invite', kiosk: null, personId: null, context: request.auditContext },
      })
      events.announceVisitor(arrived.id, { changed: true, in: true }, now)
      const host = visitor.hostFirstName === null ? 'your host' : visitor.hostFirstName
      return page(
        reply,
        { ...visitor, ...arrived },
        request.params.token,
        'used',
        `Welcome, ${arrived.name}. You signed in at ${formatTime(now, tz)}; we are letting ${host} know you are here.`,
      )
    },
  )
}
