import { EventEmitter } from 'node:events'

/** Something on a reception page changed: a roll call's marks or a broadcast's deliveries. */
export interface LiveChange {
  topic: 'roll-call' | 'broadcast'
  id: number
}

/**
 * In-process announcements for reception pages (roll call marks, broadcast deliveries), sent to
 * browsers over server-sent events next to the register's presence changes.
 */
export class ReceptionEvents extends EventEmitter<{ change: [LiveChange] }> {
  constructor() {
    super()
    // Every open reception page holds a listener.
    this.setMaxListeners(0)
  }
}
