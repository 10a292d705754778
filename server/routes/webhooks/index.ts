import type { FastifyInstance } from 'fastify'
import { UserError } from '../../lib/errors.js'
import { idSchema } from '../../lib/ids.js'
import { isSignedByTwilio, recordTwilioStatus } from '../../messaging/delivery-status.service.js'
import { TWILIO_STATUS_PATH } from '../../messaging/twilio-status-path.js'

type StatusBody = { MessageSid: string; MessageStatus: string; ErrorCode?: string }
type StatusQuery = { m?: number }

/**
 * Callbacks from providers. No session and no CSRF token: each request proves where it comes
 * from with the provider's signature instead. Only registered for the providers configured.
 */
export default async function webhookRoutes(app: FastifyInstance): Promise<void> {
  const { config, db, clock } = app.ctx
  const authToken = config.TWILIO_AUTH_TOKEN
  if (!config.TWILIO_ACCOUNT_SID || !authToken) return

  app.post<{ Body: StatusBody; Querystring: StatusQuery }>(
    TWILIO_STATUS_PATH,
    {
      // A broadcast to hundreds of phones brings several callbacks each from a few Twilio addresses.
      config: { rateLimit: { max: 6000, timeWindow: '1 minute' } },
      // Before schema validation: an unsigned request learns nothing, not even what we expect.
      preValidation: async (request) => {
        const signature = request.headers['x-twilio-signature']
        const body = request.body && typeof request.body === 'object' ? request.body : {}
        const url = `${config.PUBLIC_URL}${request.url}`
        if (!isSignedByTwilio(authToken, typeof signature === 'string' ? signature : undefined, url, body)) {
          request.log.warn('Twilio status callback with a missing or wrong signature')
          throw new UserError(403, 'This address only accepts signed requests from Twilio.')
        }
      },
      schema: {
        querystring: {
          type: 'object',
          properties: { m: idSchema },
        },
        body: {
          type: 'object',
          required: ['MessageSid', 'MessageStatus'],
          properties: {
            MessageSid: { type: 'string', maxLength: 64 },
            MessageStatus: { type: 'string', maxLength: 32 },
            ErrorCode: { type: 'string', maxLength: 16 },
          },
        },
      },
    },
    async (request, reply) => {
      await recordTwilioStatus(db, {
        messageId: request.query.m,
        messageSid: request.body.MessageSid,
        messageStatus: request.body.MessageStatus,
        errorCode: request.body.ErrorCode || undefined,
        at: clock.now(),
      })
      return reply.code(204).send()
    },
  )
}
