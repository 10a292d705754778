import { LiveTopic, type LiveTransport } from '../lib/live-topic.js'

/**
 * Something on a reception page changed: a roll call's marks, a broadcast's deliveries, or a
 * kiosk's notices (a visitor's sign-in it saved offline was refused; `id` is the kiosk's).
 */
export interface LiveChange {
  topic: 'roll-call' | 'broadcast' | 'kiosk'
  id: number
}

/**
 * Announcements for reception pages (roll call marks, broadcast deliveries), heard by every
 * process and sent to browsers over server-sent events next to the register's presence changes.
 */
export class ReceptionEvents extends LiveTopic<LiveChange> {
  constructor(transport?: LiveTransport) {
    super('reception', transport)
  }
}
