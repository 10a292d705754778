import { LiveTopic, type LiveTransport } from '../lib/live-topic.js'

/** A change to who is in the building, announced after it is committed. */
export interface PresenceChange {
  /** The member of staff, or null for a visitor (then visitorId says who). */
  personId: number | null
  visitorId?: number
  /** `still-here`: a reminder answered "Still here", which moves the person's line on the fire list. */
  action: 'signed-in' | 'signed-out' | 'closed' | 'still-here'
  at: number
}

/**
 * Announcements of presence changes (for live boards over server-sent events and the presence
 * API's cache), heard by every process. Durable side effects (Slack, reminders) must not rely on
 * this: they read the database.
 */
export class RegisterEvents extends LiveTopic<PresenceChange> {
  constructor(transport?: LiveTransport) {
    super('presence', transport)
  }

  /** Announces a tap that changed something: in (signed in) or out (signed out). */
  announceTap(personId: number, tap: { changed: boolean; in: boolean }, at: number): void {
    if (tap.changed) this.emit('change', { personId, action: tap.in ? 'signed-in' : 'signed-out', at })
  }

  /**
   * Announces a recorded "Still here" (the reminder's link or notification): no one came or went,
   * but the fire list counts the person In from then on, or says when they said it (Unconfirmed).
   */
  announceStillHere(personId: number, at: number): void {
    this.emit('change', { personId, action: 'still-here', at })
  }

  /** Announces a visitor's arrival or departure that changed something. */
  announceVisitor(visitorId: number, change: { changed: boolean; in: boolean }, at: number): void {
    if (change.changed)
      this.emit('change', { personId: null, visitorId, action: change.in ? 'signed-in' : 'signed-out', at })
  }
}
