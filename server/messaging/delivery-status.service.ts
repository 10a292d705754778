import { validateRequest } from 'twilio/lib/webhooks/webhooks.js'
import type { Db } from '../db/connect.js'
import { advanceMessageStatus, findMessageByProviderId } from './message.repository.js'
import { fromTwilioStatus } from './message-status.js'

/**
 * True when a webhook really comes from Twilio: X-Twilio-Signature is the HMAC of the URL Twilio
 * called (our public URL, path and query) and the posted fields, keyed with our auth token.
 */
export function isSignedByTwilio(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, unknown>,
): boolean {
  if (!signature) return false
  return validateRequest(authToken, signature, url, params)
}

/** A Twilio status callback: which message, where it got to, and Twilio's error code if it failed. */
export interface TwilioStatusReport {
  messageId?: number
  messageSid: string
  messageStatus: string
  errorCode?: string
  at: number
}

/**
 * Moves a message on to the status Twilio reports (queued → sent → delivered | undelivered |
 * failed), never backwards: callbacks can arrive out of order. Unknown messages are ignored.
 */
export async function recordTwilioStatus(db: Db, report: TwilioStatusReport): Promise<boolean> {
  const status = fromTwilioStatus(report.messageStatus)
  if (!status) return false
  const id = report.messageId ?? (await findMessageByProviderId(db, report.messageSid))?.id
  if (id === undefined) return false
  return advanceMessageStatus(
    db,
    { id, providerId: report.messageSid },
    { status, error: report.errorCode ? `Twilio error ${report.errorCode}` : null, at: report.at },
  )
}
