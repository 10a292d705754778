import type { MessageStatus } from '../db/database.js'

/** Every status a message can have, in the order they are shown in filters. */
export const MESSAGE_STATUSES: readonly MessageStatus[] = [
  'pending',
  'queued',
  'sending',
  'sent',
  'delivered',
  'undelivered',
  'failed',
]

/** How far along each status is: a message only ever moves to a higher rank. */
export const statusRank: Record<MessageStatus, number> = {
  pending: 0,
  queued: 1,
  sending: 2,
  sent: 3,
  delivered: 4,
  undelivered: 4,
  failed: 4,
}

/** The statuses a message may move on from to reach this one. */
export function statusesBefore(status: MessageStatus): MessageStatus[] {
  return MESSAGE_STATUSES.filter((s) => statusRank[s] < statusRank[status])
}

/** Twilio's MessageStatus values as ours; statuses we do not track (receiving, …) give undefined. */
export function fromTwilioStatus(status: string): MessageStatus | undefined {
  switch (status) {
    case 'accepted':
    case 'scheduled':
    case 'queued':
      return 'queued'
    case 'sending':
      return 'sending'
    case 'sent':
      return 'sent'
    case 'delivered':
    case 'read':
      return 'delivered'
    case 'undelivered':
      return 'undelivered'
    case 'failed':
    case 'canceled':
      return 'failed'
    default:
      return undefined
  }
}
