import { EventEmitter } from 'node:events'

/** A change to who is in the building, announced after it is committed. */
export interface PresenceChange {
  personId: number
  action: 'signed-in' | 'signed-out' | 'closed'
  at: number
}

/**
 * In-process announcements of presence changes (for live boards over server-sent events).
 * Durable side effects (Slack, reminders) must not rely on this: they read the database.
 */
export class RegisterEvents extends EventEmitter<{ change: [PresenceChange] }> {
  constructor() {
    super()
    // Every open presence board holds a listener.
    this.setMaxListeners(0)
  }

  /** Announces a tap that changed something: in (signed in) or out (signed out). */
  announceTap(personId: number, tap: { changed: boolean; in: boolean }, at: number): void {
    if (tap.changed) this.emit('change', { personId, action: tap.in ? 'signed-in' : 'signed-out', at })
  }
}
