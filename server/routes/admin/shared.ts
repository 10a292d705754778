import type { FastifyRequest } from 'fastify'
import type { AdminActor } from '../../identity/roles.service.js'
import type { Clock } from '../../lib/site-time.js'

/** JSON schema for a short optional text field in a query string. */
export const shortText = (max: number) => ({ type: 'string', maxLength: max }) as const

/** The signed-in admin acting now, as the audit trail records them. */
export const adminActor = (request: FastifyRequest, clock: Clock): AdminActor => ({
  personId: request.person!.id,
  at: clock.now(),
  context: request.auditContext,
})
