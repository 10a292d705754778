import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely'

// Row types mirror the SQL in migrations/. Every instant is integer epoch milliseconds (UTC).

/** The kinds of contact a person can verify. */
export type ContactKind = 'email' | 'phone'
/** Who closed a visit: the person, the nightly auto-close, an admin, or the directory (SCIM) when they left the organisation. */
export type ClosedBy = 'person' | 'auto' | 'admin' | 'directory' | 'deactivated'
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
  /** When an admin erased them: names replaced, contacts and devices gone, visits kept anonymous. */
  erased_at: ColumnType<number | null, number | null | undefined, number | null>
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
  /** How the person proved who they were on this device: a code (or link), or their organisation's sign-in. */
  signed_in_with: ColumnType<SignInMethod, SignInMethod | undefined, SignInMethod>
}

/** How a device was signed in: a one-time code (or a link made from a coded device), or organisation sign-in. */
export type SignInMethod = 'code' | 'sso'

/** An account at an organisation sign-in provider (issuer + subject) that belongs to a person. */
export interface SsoIdentityTable {
  id: Generated<number>
  person_id: number
  /** The configured provider's id (SSO_<n>_ID) at the last sign-in. */
  provider: string
  issuer: string
  subject: string
  /** The email the provider last gave, for the admin's eyes; linking never trusts it here. */
  email: string | null
  created_at: number
  last_login_at: number
}

/** Time spent in the building, from sign-in to sign-out. */
export interface VisitTable {
  id: Generated<number>
  person_id: number
  signed_in_at: number
  signed_out_at: number | null
  closed_by: ClosedBy | null
  /**
   * When the register closed the visit (the server's clock at the close), whoever closed it; later
   * than `signed_out_at` when the close was back-dated (an earlier day's visit, a late auto-close).
   * Null while open, and for visits closed before migration 202612031400.
   */
  closed_at: ColumnType<number | null, number | null | undefined, number | null>
  /**
   * The latest time a sign-in found the visit already open (another device, reception, a replayed
   * tap): a tap saved offline before it is overtaken. Null until then (migration 202612031900).
   */
  signed_in_again_at: ColumnType<number | null, number | null | undefined, number | null>
}

/**
 * How many people are inside now: the sum of `inside` over every slot, kept by triggers on `visit`
 * (never written by code). A slot alone means nothing; see migrations/202612021010.
 */
export interface OccupancySlotTable {
  slot: number
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
  /** SHA-256 of the method, path and body the key was first used with (null on older rows). */
  request_hash: string | null
}

/** An hour in which the site-wide budget of texted codes ran out (the admins were told once). */
export interface CodeBudgetAlertTable {
  hour_start: number
  created_at: number
  codes_sent: number
}

/** The row /healthz writes to check that writes reach the disk. */
export interface HealthProbeTable {
  id: number
  checked_at: number
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

/** What an outbox row announces: a presence change, a scheduled occupancy digest, or a visitor's arrival. */
export type OutboxTopic = 'presence' | 'digest' | 'visitor-arrival'

/** An event to announce outside (Slack, a visitor's host), written in the same transaction as the change. */
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
  /** api: the JSON API with its role; scim: only directory sync at /scim/v2. */
  purpose: ColumnType<TokenPurpose, TokenPurpose | undefined, TokenPurpose>
}

/** What an integration token opens. */
export type TokenPurpose = 'api' | 'scim'

/** A person the organisation's directory manages through SCIM (Entra ID or Okta provisioning). */
export interface DirectoryUserTable {
  person_id: number
  /** As the directory sent it. */
  user_name: string
  /** Lower-cased userName: SCIM compares it case-insensitively, and it is unique. */
  user_name_key: string
  external_id: string | null
  /** 1 while the directory says active; 0 once it deactivated the person. */
  active: number
  created_at: number
  updated_at: number
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
  /** 0 when the person was unconfirmed on the fire list (maybe not really inside). */
  confirmed: number
  /** Why they were unconfirmed (server/reception/presence.service.ts), null when in (cleared when they tap in). */
  reason: ColumnType<UnconfirmedReasonKind | null, UnconfirmedReasonKind | null | undefined, null>
  reason_at: ColumnType<number | null, number | null | undefined, null>
  last_activity_at: ColumnType<number | null, number | null | undefined, number>
  still_here_at: ColumnType<number | null, number | null | undefined, never>
  /**
   * When the visit that put them on the list was signed out, as that sign-out reached the server
   * while the roll call ran (before its start: they were not inside); null when none has.
   */
  signed_out_at: ColumnType<number | null, number | null | undefined, number | null>
}

/** A mark made offline on a marshal's phone, by the phone's key: a replay of it changes nothing. */
export interface RollCallMarkReceiptTable {
  key: string
  roll_call_id: number
  received_at: number
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

/** Why someone on the fire list is unconfirmed. */
export type UnconfirmedReasonKind = 'reminded' | 'still-here' | 'auto-closed' | 'earlier-day'

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
  /** The member of staff it went to, or null for a visitor (then `visitor_id`). */
  person_id: number | null
  /** The visitor inside it went to (a broadcast to everyone in the building), or null. */
  visitor_id: number | null
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

/** A shared tablet at an entrance; it is nobody, and its token only does kiosk things. */
export interface KioskTable {
  id: Generated<number>
  name: string
  token_hash: string | null
  pairing_code_hash: string | null
  pairing_expires_at: number | null
  paired_at: number | null
  last_seen_at: number | null
  created_by: number | null
  created_at: number
  removed_at: number | null
}

/** An outgoing webhook endpoint (Standard Webhooks); the secret is encrypted at rest. */
export interface WebhookEndpointTable {
  id: Generated<number>
  url: string
  description: Generated<string>
  /** Space-separated event types, e.g. "visit.signed_in visit.signed_out". */
  events: string
  secret_encrypted: string
  enabled: Generated<number>
  disabled_reason: string | null
  created_by: number | null
  created_at: number
  removed_at: number | null
}

/** Something to announce to webhooks, written with the change it describes. IDs only. */
export interface WebhookEventTable {
  id: Generated<number>
  type: string
  person_id: number | null
  data: string
  occurred_at: number
  fanned_out_at: number | null
}

/** One event to one endpoint: attempts, next try, last answer. */
export interface WebhookDeliveryTable {
  id: Generated<number>
  endpoint_id: number
  event_id: number
  order_key: string
  state: Generated<'pending' | 'delivered' | 'failed'>
  attempts: Generated<number>
  next_attempt_at: number
  lease_until: number | null
  last_status: number | null
  last_error: string | null
  last_attempt_at: number | null
  created_at: number
}

/** One version of the site notice visitors accept at the kiosk; the latest applies. */
export interface SiteNoticeTable {
  id: Generated<number>
  text: string
  created_by: number | null
  created_at: number
}

/** How a visitor came to be signed in. */
export type VisitorVia = 'kiosk' | 'reception' | 'invite'
/** Who ended a visitor's visit. */
export type VisitorClosedBy = 'visitor' | 'reception' | 'auto'

/** A visitor's visit (or a host's pre-registration, until signed_in_at is set). */
export interface VisitorTable {
  id: Generated<number>
  name: string
  company: string
  host_person_id: number | null
  /** The host's name as typed, when it could not be matched to one person (e.g. typed offline). */
  host_text: string | null
  phone: string | null
  email: string | null
  notice_id: number | null
  notice_accepted_at: number | null
  /** The local day a pre-registered visitor is expected (yyyy-mm-dd). */
  expected_day: string | null
  invited_by: number | null
  kiosk_id: number | null
  signed_in_via: VisitorVia | null
  signed_in_at: number | null
  signed_out_at: number | null
  closed_by: VisitorClosedBy | null
  /** When the register closed the visit, as `visit.closed_at`; null while in and before 202612031400. */
  closed_at: ColumnType<number | null, number | null | undefined, number | null>
  /** The kiosk's idempotency key for a sign-in made there (offline replays carry it). */
  client_key: string | null
  host_notified_at: number | null
  reminded_at: number | null
  /** A JPEG data URL taken by the kiosk camera; purged with the visit. */
  photo: string | null
  created_at: number
}

/** A host's invitation for a pre-registered visitor: the link and kiosk code, stored hashed. */
export interface VisitorInvitationTable {
  visitor_id: number
  /** SHA-256 of the link's 256-bit token. */
  token_hash: string
  /** HMAC of the short code typed at the kiosk. */
  code_hash: string
  /** The local time the host expects them (HH:mm), if they said. */
  expected_time: string | null
  sent_at: number | null
  cancelled_at: number | null
  created_at: number
}

/** A staff member's kiosk PIN (scrypt), with its lockout state. */
export interface StaffPinTable {
  person_id: number
  pin_hash: string
  failures: ColumnType<number, number | undefined, number>
  locked_until: number | null
  updated_at: number
}

/** A door code a person used, so the same code cannot be used twice by them. */
export interface DoorCodeUseTable {
  kiosk_id: number
  slot: number
  person_id: number
  used_at: number
}

/** A staff visit begun or ended at a kiosk: by its door code, or with a PIN. */
export interface VisitAtDoorTable {
  visit_id: number
  kiosk_id: number | null
  action: 'signed-in' | 'signed-out'
  method: 'door-code' | 'pin'
  at: number
}

/** A visitor inside when a roll call started, copied, with the latest mark. */
export interface RollCallVisitorTable {
  roll_call_id: number
  visitor_id: number
  name: string
  company: string
  host_name: string
  phone: string | null
  signed_in_at: number
  status: ColumnType<RollCallStatus, RollCallStatus | undefined, RollCallStatus>
  marked_by: number | null
  marked_at: number | null
  /** Why the visitor was unconfirmed on the fire list at the start, null when in. */
  reason: ColumnType<
    'earlier-day' | 'auto-closed' | null,
    'earlier-day' | 'auto-closed' | null | undefined,
    never
  >
  /** When the auto-close closed the visit ('auto-closed'). */
  reason_at: ColumnType<number | null, number | null | undefined, never>
  /** 'self' when the visitor answered a broadcast themselves; null when a marshal marked them. */
  via: ColumnType<'self' | null, 'self' | null | undefined, 'self' | null>
  /**
   * When the visit was signed out, as that sign-out reached the server while the roll call ran
   * (before its start: they were not inside); null when none has.
   */
  signed_out_at: ColumnType<number | null, number | null | undefined, number | null>
  /**
   * When they were put on it after its start read the list (they answered the evacuation message
   * while off it): "Not on the list when it started", as staff with only a mark; null when on it.
   */
  added_after_start_at: ColumnType<number | null, number | null | undefined, never>
}

/** The whole database, as Kysely sees it. */
/** Who runs the embedded scheduler (one process at a time), until when. */
export interface JobLeaseTable {
  name: string
  holder: string
  expires_at: number
}
export type JobLease = Selectable<JobLeaseTable>

/** One occurrence of a schedule, claimed by the process that runs it. */
export interface JobRunTable {
  schedule_id: string
  due_at: number
  holder: string
  started_at: number
  /** When its run ended (done, or given up); null while it runs, or if its process was killed mid-run. */
  finished_at: number | null
}
export type JobRun = Selectable<JobRunTable>

/** Where an invitation stands: waiting to be sent, being sent, sent (link live), failed, used, revoked. */
export type InvitationStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'used' | 'revoked'

/** A one-time invitation link sent to a contact from a bulk import; only the token's hash is stored. */
export interface InvitationTable {
  id: Generated<number>
  /** Who the link signs in: known at import when the contact already belongs to someone, else once used. */
  person_id: number | null
  first_name: string
  last_name: string
  contact_kind: ContactKind
  contact_value: string
  /** SHA-256 of the token; set when the message is sent (the token exists only in the message). */
  token_hash: string | null
  status: InvitationStatus
  error: string | null
  /** The message log row of the send. */
  message_id: number | null
  created_by: number | null
  created_at: number
  expires_at: number
  /** When a sender claimed it (a claim older than a few minutes belongs to a sender that died). */
  claimed_at: number | null
  sent_at: number | null
  used_at: number | null
  revoked_at: number | null
}

export interface DB {
  person: PersonTable
  contact: ContactTable
  login_code: LoginCodeTable
  device: DeviceTable
  visit: VisitTable
  occupancy_slot: OccupancySlotTable
  audit_event: AuditEventTable
  idempotency_key: IdempotencyKeyTable
  job_lease: JobLeaseTable
  job_run: JobRunTable
  code_budget_alert: CodeBudgetAlertTable
  health_probe: HealthProbeTable
  message: MessageTable
  push_subscription: PushSubscriptionTable
  outbox: OutboxTable
  outbox_delivery: OutboxDeliveryTable
  reminder: ReminderTable
  integration_token: IntegrationTokenTable
  sso_identity: SsoIdentityTable
  directory_user: DirectoryUserTable
  roll_call: RollCallTable
  roll_call_person: RollCallPersonTable
  roll_call_mark: RollCallMarkTable
  roll_call_mark_receipt: RollCallMarkReceiptTable
  broadcast: BroadcastTable
  broadcast_recipient: BroadcastRecipientTable
  kiosk: KioskTable
  site_notice: SiteNoticeTable
  visitor: VisitorTable
  visitor_invitation: VisitorInvitationTable
  staff_pin: StaffPinTable
  door_code_use: DoorCodeUseTable
  visit_at_door: VisitAtDoorTable
  roll_call_visitor: RollCallVisitorTable
  webhook_endpoint: WebhookEndpointTable
  webhook_event: WebhookEventTable
  webhook_delivery: WebhookDeliveryTable
  invitation: InvitationTable
}

export type Person = Selectable<PersonTable>
export type Invitation = Selectable<InvitationTable>
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
export type SsoIdentity = Selectable<SsoIdentityTable>
export type DirectoryUser = Selectable<DirectoryUserTable>
export type RollCall = Selectable<RollCallTable>
export type Broadcast = Selectable<BroadcastTable>
export type BroadcastRecipient = Selectable<BroadcastRecipientTable>
export type Kiosk = Selectable<KioskTable>
export type SiteNotice = Selectable<SiteNoticeTable>
export type Visitor = Selectable<VisitorTable>
export type VisitorInvitation = Selectable<VisitorInvitationTable>
