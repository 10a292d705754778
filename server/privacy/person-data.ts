import type { Db } from '../db/connect.js'
import { listContacts } from '../identity/contact.repository.js'
import { findPersonById } from '../identity/person.repository.js'
import { selectRowsAbout } from './erasure.repository.js'

/**
 * What erasure does to a table's rows about the person: delete them, keep them (IDs and times
 * only, e.g. visits, so statistics stay right), or overwrite the columns that name or reach them.
 */
export type ErasePolicy = 'delete' | 'keep' | { set: Record<string, string | null> }

/**
 * Every table holding rows about a person, by the column that names them, the columns never
 * shown (hashes, keys), and what erasure does to them. A test fails when a table with a
 * `person_id` column is missing here, so a new table cannot escape the export and erasure.
 */
export const PERSON_TABLES: Readonly<
  Record<string, { column: string; hidden?: readonly string[]; contactColumn?: string; erase: ErasePolicy }>
> = {
  contact: { column: 'person_id', erase: 'delete' },
  device: { column: 'person_id', hidden: ['token_hash'], erase: 'delete' },
  visit: { column: 'person_id', erase: 'keep' },
  reminder: { column: 'person_id', erase: 'keep' },
  // A login code's message is sent before a new person exists: found by the contact too.
  message: { column: 'person_id', contactColumn: 'contact_value', erase: 'delete' },
  // The erasure itself is recorded afterwards, as the only row left about them.
  audit_event: { column: 'person_id', erase: 'delete' },
  login_code: { column: 'person_id', hidden: ['code_hash'], contactColumn: 'contact_value', erase: 'delete' },
  push_subscription: { column: 'person_id', hidden: ['endpoint', 'p256dh', 'auth'], erase: 'delete' },
  // Kept so a broadcast's counts stay right; the contact and the provider's traces go.
  broadcast_recipient: {
    column: 'person_id',
    contactColumn: 'contact_value',
    erase: {
      set: { contact_value: null, contact_kind: null, provider_id: null, message_id: null, error: null },
    },
  },
  // Kept so a drill report's counts stay right; the names copied at the start go.
  roll_call_person: { column: 'person_id', erase: { set: { first_name: 'Erased', last_name: 'person' } } },
  roll_call_mark: { column: 'person_id', erase: 'keep' },
  sso_identity: { column: 'person_id', erase: 'delete' },
  staff_pin: { column: 'person_id', hidden: ['pin_hash'], erase: 'delete' },
  door_code_use: { column: 'person_id', erase: 'delete' },
  webhook_event: { column: 'person_id', erase: 'delete' },
  directory_user: { column: 'person_id', erase: 'delete' },
  // An invitation not yet used names nobody yet: found by the contact it was sent to.
  invitation: {
    column: 'person_id',
    hidden: ['token_hash'],
    contactColumn: 'contact_value',
    erase: 'delete',
  },
  // The visitors a host pre-registered, as the host typed them (the visitor's own data follows
  // VISITOR_RETENTION_DAYS). Kept on erasure: they are about the visitor, not the host.
  visitor: { column: 'invited_by', hidden: ['photo', 'client_key'], erase: 'keep' },
}

/** Everything the register holds about a person: their person row and each table's rows. */
export interface PersonData {
  person: Record<string, unknown> | undefined
  tables: Record<string, Record<string, unknown>[]>
}

/** Reads every row about a person from every table in PERSON_TABLES, hidden columns left out. */
export async function readPersonData(db: Db, personId: number): Promise<PersonData> {
  const person = await findPersonById(db, personId)
  const contacts = (await listContacts(db, personId)).map((c) => c.value)
  const tables: PersonData['tables'] = {}
  for (const [table, { column, hidden = [], contactColumn }] of Object.entries(PERSON_TABLES)) {
    const rows = await selectRowsAbout(db, { table, column, contactColumn, personId, contacts })
    tables[table] = rows.map((row) =>
      Object.fromEntries(Object.entries(row).filter(([k]) => !hidden.includes(k))),
    )
  }
  return { person, tables }
}
