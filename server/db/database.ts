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

/** The whole database, as Kysely sees it. */
export interface DB {
  person: PersonTable
  contact: ContactTable
  login_code: LoginCodeTable
  device: DeviceTable
  visit: VisitTable
  audit_event: AuditEventTable
  idempotency_key: IdempotencyKeyTable
  integration_token: IntegrationTokenTable
}

export type Person = Selectable<PersonTable>
export type NewPerson = Insertable<PersonTable>
export type PersonUpdate = Updateable<PersonTable>
export type Contact = Selectable<ContactTable>
export type LoginCode = Selectable<LoginCodeTable>
export type Device = Selectable<DeviceTable>
export type Visit = Selectable<VisitTable>
export type AuditEvent = Selectable<AuditEventTable>
export type IntegrationToken = Selectable<IntegrationTokenTable>
