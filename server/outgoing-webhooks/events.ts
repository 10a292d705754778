/** Every event type an endpoint can ask for, with what it means for the admin page. */
export const WEBHOOK_EVENT_TYPES = {
  'visit.signed_in': 'Someone signed in',
  'visit.signed_out': 'Someone signed out (themselves, or closed by an admin)',
  'visit.auto_closed': 'A visit still open at the end of the day was closed automatically (unconfirmed)',
  'reminder.answered': 'Someone answered the end-of-day reminder (I’ve left / Still here)',
  'roll_call.started': 'A fire roll call started',
  'roll_call.ended': 'A fire roll call ended',
  'person.created': 'A new person joined (first login)',
  'person.deactivated': 'An admin deactivated a person',
  'visitor.arrived': 'A visitor signed in',
  'visitor.left': 'A visitor signed out',
} as const

/** An event type an endpoint can subscribe to. */
export type WebhookEventType = keyof typeof WEBHOOK_EVENT_TYPES

/** The test event the admin page sends; it is not subscribable. */
export const TEST_EVENT_TYPE = 'webhook.test'

/**
 * Which audit actions are announced, as which event. Every change writes an audit row in its own
 * transaction, so recording the event there makes it commit (or roll back) with the change.
 */
export const EVENT_FOR_AUDIT_ACTION: Readonly<Record<string, WebhookEventType>> = {
  'visit.signed-in': 'visit.signed_in',
  'visit.signed-out': 'visit.signed_out',
  'visit.closed-by-admin': 'visit.signed_out',
  'visit.auto-closed': 'visit.auto_closed',
  'reminder.answered': 'reminder.answered',
  'roll-call.started': 'roll_call.started',
  'roll-call.ended': 'roll_call.ended',
  'person.created': 'person.created',
  'person.deactivated': 'person.deactivated',
  // The audit actions of server/visitors/visitor.service.ts (kiosk, reception, own link, badge).
  'visitor.signed-in': 'visitor.arrived',
  'visitor.signed-out': 'visitor.left',
}

/** True for a known, subscribable event type. */
export function isWebhookEventType(value: string): value is WebhookEventType {
  return Object.hasOwn(WEBHOOK_EVENT_TYPES, value)
}
