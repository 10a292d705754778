import { LiveTopic, type LiveTransport } from '../lib/live-topic.js'

/** Something on a reception page changed: a roll call's marks or a broadcast's deliveries. */
export interface LiveChange {
  topic: 'roll-call' | 'broadcast'
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
