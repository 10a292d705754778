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
  audit_event: AuditEventTable
  idempotency_key: IdempotencyKeyTable
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
export type RollCall = Selectable<RollCallTable>
export type Broadcast = Selectable<BroadcastTable>
export type BroadcastRecipient = Selectable<BroadcastRecipientTable>
