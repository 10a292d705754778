import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

// Row types mirror the SQL in migrations/. Every instant is integer epoch milliseconds (UTC).

/** The kinds of contact a person can verify. */
export type ContactKind = 'email' | 'phone'
/** Who closed a visit: the person, the nightly auto-close, or an admin. */
export type ClosedBy = 'person' | 'auto' | 'admin'
/** Why a one-time code was issued. */
export type CodePurpose = 'login' | 'add-contact'
/** How a device token is presented: a browser cookie, an API bearer token, or a personal sign-in link. */
export type DeviceKind = 'browser' | 'api' | 'link'

/** What a person may do: everyone is staff; reception sees presence and runs roll calls; admin does everything. */
export type Role = 'staff' | 'reception' | 'admin'

/** A member of staff. */
export interface PersonTable {
  id: Generated<number>
  first_name: string
  last_name: string
  role: ColumnType<Role, Role | undefined, Role>
  created_at: number
  updated_at: number
  deactivated_at: number | null
}

/** A verified email address or E.164 phone number; each belongs to exactly one person. */
export interface ContactTable {
  id: Generated<number>
  person_id: number
  kind: ContactKind
  value: string
  verified_at: number
  created_at: number
}

/** A one-time code, stored only as a keyed hash. */
export interface LoginCodeTable {
  id: Generated<number>
  contact_value: string
  purpose: CodePurpose
  person_id: number | null
  code_hash: string
  attempts: ColumnType<number, number | undefined, number>
  expires_at: number
  consumed_at: number | null
  created_at: number
  ip: string
}

/** A long-lived token that recognises a device; only its hash is stored. */
export interface DeviceTable {
  id: Generated<number>
  person_id: number
  kind: DeviceKind
  token_hash: string
  name: string
  user_agent: string
  created_at: number
  last_used_at: number
  revoked_at: number | null
}

/** Time spent in the building, from sign-in to sign-out. */
export interface VisitTable {
  id: Generated<number>
  person_id: number
  signed_in_at: number
  signed_out_at: number | null
  closed_by: ClosedBy | null
}

/** One row: how many people are inside now, kept by triggers on `visit` (never written by code). */
export interface OccupancyTable {
  id: number
  inside: number
}

/** One row per state change: who, what, when, from where. */
export interface AuditEventTable {
  id: Generated<number>
  at: number
  person_id: number | null
  action: string
  ip: string
  user_agent: string
  detail: ColumnType<string, string | undefined, string>
}

/** The first answer given to a request carrying an Idempotency-Key, replayed on retries. */
export interface IdempotencyKeyTable {
  device_id: number
  key: string
  response: string
  created_at: number
}

/** Where a message stands: ours before the provider answers (pending), then the provider's word. */
export type MessageStatus = 'pending' | 'queued' | 'sending' | 'sent' | 'delivered' | 'undelivered' | 'failed'

/** One outgoing message (code, reminder, broadcast) and what became of it; never its text. */
export interface MessageTable {
  id: Generated<number>
  channel: string
  contact_kind: ContactKind
  contact_value: string
  person_id: number | null
  purpose: string
  provider_id: string | null
  status: MessageStatus
  error: string | null
  attempts: ColumnType<number, number | undefined, number>
  created_at: number
  updated_at: number
}

/** A browser's Web Push subscription; the endpoint is unique, expired ones (404/410) are deleted. */
export interface PushSubscriptionTable {
  id: Generated<number>
  person_id: number
  device_id: number | null
  endpoint: string
  p256dh: string
  auth: string
  created_at: number
  last_success_at: number | null
}

/** What an outbox row announces: a presence change, or a scheduled occupancy digest. */
export type OutboxTopic = 'presence' | 'digest'

/** An event to announce outside (Slack), written in the same transaction as the change. */
export interface OutboxTable {
  id: Generated<number>
  topic: OutboxTopic
  /** JSON holding IDs and counts only, never contacts or names. */
  payload: string
  created_at: number
  /** When it was handed to the queue (or delivered in-process); null until then. */
  relayed_at: number | null
}

/** One outbox event posted to one webhook (target = a hash of the URL). */
export interface OutboxDeliveryTable {
  outbox_id: number
  target: string
  delivered_at: number
}

/** Where a reminder stands. */
export type ReminderStatus = 'sending' | 'sent' | 'unreachable'

/** How a person answered their reminder. */
export type ReminderAnswer = 'left' | 'still-here'

/** The end-of-day reminder for a person on a local day: at most one, its links single-use. */
export interface ReminderTable {
  id: Generated<number>
  person_id: number
  day: string
  visit_id: number
  /** `sending` is a claim held by one worker; `unreachable` means no verified contact could be used. */
  status: ColumnType<ReminderStatus, ReminderStatus | undefined, ReminderStatus>
  created_at: number
  sent_at: number | null
  channel: string | null
  answered_at: number | null
  answer: ReminderAnswer | null
}

/** A long-lived API token an admin created for another system; it acts with a role, not as a person. */
export interface IntegrationTokenTable {
  id: Generated<number>
  name: string
  role: Role
  token_hash: string
  created_by: number | null
  created_at: number
  last_used_at: number | null
  revoked_at: number | null
}

/** A roll call is a fire drill or a real evacuation. */
export type RollCallKind = 'drill' | 'real'
/** Where a person stands on a roll call; `unaccounted` clears an earlier mark. */
export type RollCallStatus = 'safe' | 'missing' | 'help' | 'unaccounted'

/** A roll call: started by reception, ended with a report kept in the audit trail. */
export interface RollCallTable {
  id: Generated<number>
  kind: RollCallKind
  started_at: number
  started_by: number | null
  ended_at: number | null
  ended_by: number | null
}

/** Who was inside when a roll call started (names copied at that moment). */
export interface RollCallPersonTable {
  roll_call_id: number
  person_id: number
  first_name: string
  last_name: string
  signed_in_at: number
  /** 0 when the visit was left open on an earlier day (maybe not really inside). */
  confirmed: number
}

/** The latest mark for a person on a roll call: last write wins, keeping who and when. */
export interface RollCallMarkTable {
  roll_call_id: number
  person_id: number
  status: RollCallStatus
  /** A marshal's tap, or the person's own answer to a broadcast. */
  via: 'marshal' | 'self'
  marked_by: number | null
  marked_at: number
}

/** Which message a broadcast started from. */
export type BroadcastTemplate = 'drill' | 'evacuation' | 'closure' | 'free'
/** Who a broadcast goes to. */
export type BroadcastAudience = 'inside' | 'everyone'
/** Where one broadcast delivery stands on our side (the provider's later word is in its message log). */
export type BroadcastRecipientStatus = 'pending' | 'sending' | 'sent' | 'failed'

/** A message from reception to everyone inside (or everyone). */
export interface BroadcastTable {
  id: Generated<number>
  template: BroadcastTemplate
  audience: BroadcastAudience
  message: string
  /** 1 when the message carries "I'm safe" / "I need help" links. */
  ask_safety: number
  roll_call_id: number | null
  created_by: number | null
  created_at: number
}

/** One person a broadcast was sent to, how, and their answer. */
export interface BroadcastRecipientTable {
  id: Generated<number>
  broadcast_id: number
  person_id: number
  status: BroadcastRecipientStatus
  contact_kind: ContactKind | null
  contact_value: string | null
  channel: string | null
  provider_id: string | null
  /** The messenger's log row for this send, if it keeps one (provider delivery reports update it). */
  message_id: number | null
  error: string | null
  sent_at: number | null
  answer: 'safe' | 'help' | null
  answered_at: number | null
  safe_link_used_at: number | null
  help_link_used_at: number | null
}

/** The whole database, as Kysely sees it. */
export interface DB {
  person: PersonTable
  contact: ContactTable
  login_code: LoginCodeTable
  device: DeviceTable
  visit: VisitTable
  occupancy: OccupancyTable
  audit_event: AuditEventTable
  idempotency_key: IdempotencyKeyTable
  message: MessageTable
  push_subscription: PushSubscriptionTable
  outbox: OutboxTable
  outbox_delivery: OutboxDeliveryTable
  reminder: ReminderTable
  integration_token: IntegrationTokenTable
  roll_call: RollCallTable
  roll_call_person: RollCallPersonTable
  roll_call_mark: RollCallMarkTable
  broadcast: BroadcastTable
  broadcast_recipient: BroadcastRecipientTable
}

export type Person = Selectable<PersonTable>
export type NewPerson = Insertable<PersonTable>
export type PersonUpdate = Updateable<PersonTable>
export type Contact = Selectable<ContactTable>
export type LoginCode = Selectable<LoginCodeTable>
export type Device = Selectable<DeviceTable>
export type Visit = Selectable<VisitTable>
export type AuditEvent = Selectable<AuditEventTable>
export type Message = Selectable<MessageTable>
export type PushSubscriptionRow = Selectable<PushSubscriptionTable>
export type OutboxEvent = Selectable<OutboxTable>
export type Reminder = Selectable<ReminderTable>
export type IntegrationToken = Selectable<IntegrationTokenTable>
export type RollCall = Selectable<RollCallTable>
export type Broadcast = Selectable<BroadcastTable>
export type BroadcastRecipient = Selectable<BroadcastRecipientTable>
