import { refuseLastAdmin, requirePerson, stopPerson } from '../admin/people.service.js'
import { recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Person } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { listContacts } from '../identity/contact.repository.js'
import { updatePerson } from '../identity/person.repository.js'
import type { AdminActor } from '../identity/roles.service.js'
import { UserError } from '../lib/errors.js'
import {
  type FireListSettings,
  fireList,
  staffOnFireList,
  timeAround,
} from '../reception/presence.service.js'
import { findActiveRollCall, lineStanding } from '../reception/roll-call.repository.js'
import { findOpenVisit } from '../register/visit.repository.js'
import {
  countRowsAbout,
  deleteRowsAbout,
  externalIdentifiers,
  findTextContaining,
  replaceTextValue,
  updateRowsAbout,
} from './erasure.repository.js'
import { PERSON_TABLES } from './person-data.js'

/** The names an erased person is shown by (their row stays so their visits still count). */
export const ERASED_NAME = { first_name: 'Erased', last_name: 'person' } as const

/** What replaces the person's name, contacts or identifiers inside other records' free text. */
export const ERASED_TEXT = '[erased]'

/**
 * Free text that may mention a person by name or contact although the row is about something or
 * someone else: a roll call's report in the audit trail, a webhook payload, a broadcast typed by
 * reception, the host a visitor typed. `json` columns are walked value by value.
 */
const FREE_TEXT: readonly { table: string; column: string; json?: boolean }[] = [
  { table: 'audit_event', column: 'detail', json: true },
  { table: 'webhook_event', column: 'data', json: true },
  { table: 'broadcast', column: 'message' },
  { table: 'visitor', column: 'host_text' },
  { table: 'roll_call_visitor', column: 'host_name' },
]

/** One table's part of an erasure: how many rows, and what happens to them. */
export interface ErasureLine {
  table: string
  rows: number
  action: 'deleted' | 'kept' | 'anonymised' | 'scrubbed'
}

/** What an erasure removes (the dry run) or removed. */
export interface ErasurePlan {
  person: Person
  lines: ErasureLine[]
}

/** Everything erasure searches other records for: full name, contacts, external identifiers. */
interface Traces {
  personId: number
  contacts: string[]
  /** Replaced wherever they occur in free text. */
  terms: string[]
  /** Also used to find JSON rows listing the person by id (e.g. a drill report's lines). */
  searchTerms: string[]
}

async function tracesOf(db: Db, person: Person): Promise<Traces> {
  const contacts = (await listContacts(db, person.id)).map((c) => c.value)
  const fullName = `${person.first_name} ${person.last_name}`
  // Short identifiers (a subject "7") would match unrelated text; real ones are long.
  const ids = (await externalIdentifiers(db, person.id)).filter((id) => id.length >= 4)
  const terms = [...new Set([fullName, ...contacts, ...ids])]
  return { personId: person.id, contacts, terms, searchTerms: [...terms, person.last_name] }
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

function scrubString(value: string, terms: readonly string[]): string {
  let out = value
  for (const term of terms) out = out.replace(new RegExp(escapeRegExp(term), 'gi'), ERASED_TEXT)
  return out
}

const idKeys = ['personId', 'subjectId'] as const
const nameKeys = ['firstName', 'lastName', 'name', 'first_name', 'last_name']

/** A JSON value with the person's traces replaced: terms in strings, names beside their id. */
function scrubJson(value: unknown, traces: Traces): unknown {
  if (typeof value === 'string') return scrubString(value, traces.terms)
  if (Array.isArray(value)) return value.map((v) => scrubJson(v, traces))
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const theirs = idKeys.some((key) => record[key] === traces.personId)
    return Object.fromEntries(
      Object.entries(record).map(([key, v]) => [
        key,
        theirs && nameKeys.includes(key) && typeof v === 'string' ? ERASED_TEXT : scrubJson(v, traces),
      ]),
    )
  }
  return value
}

function scrubbed(text: string, json: boolean | undefined, traces: Traces): string {
  if (!json) return scrubString(text, traces.terms)
  try {
    return JSON.stringify(scrubJson(JSON.parse(text), traces))
  } catch {
    return scrubString(text, traces.terms)
  }
}

/** The free-text values that mention the person, with what each becomes. */
async function textChanges(db: Db, traces: Traces) {
  const changes: { table: string; column: string; from: string; to: string }[] = []
  for (const { table, column, json } of FREE_TEXT) {
    for (const from of await findTextContaining(db, table, column, traces.searchTerms)) {
      const to = scrubbed(from, json, traces)
      if (to !== from) changes.push({ table, column, from, to })
    }
  }
  return changes
}

function policyAction(erase: (typeof PERSON_TABLES)[string]['erase']): ErasureLine['action'] {
  return erase === 'delete' ? 'deleted' : erase === 'keep' ? 'kept' : 'anonymised'
}

async function checkErasable(
  db: Db,
  actor: AdminActor,
  personId: number,
  settings: FireListSettings,
): Promise<Person> {
  const person = await requirePerson(db, personId)
  if (person.erased_at !== null) throw new UserError(409, 'This person has already been erased.')
  await refuseLastAdmin(db, person, 'Erasing the only administrator')
  if (actor.personId === personId) {
    throw new UserError(409, 'You cannot erase yourself. Ask another administrator.')
  }
  // The fire list names whoever is inside: erasing their name would take them off it while they may
  // be in the building. An administrator who knows they left closes the visit first.
  if (await findOpenVisit(db, personId)) {
    throw new UserError(
      409,
      `${person.first_name} ${person.last_name} is signed in. Erasing them now would take them off the fire list. If they have left, close their visit below with the time they left; otherwise erase them once they have left.`,
    )
  }
  // Closed unseen (deactivated or deprovisioned while inside, the nightly auto-close): the fire list
  // still lists them, Unconfirmed, and would show a nameless "Erased person" with no phone to call.
  const listed = staffOnFireList(await fireList(db, actor.at, settings)).find((p) => p.personId === personId)
  if (listed) {
    const until =
      listed.reason?.kind === 'auto-closed'
        ? ` until ${timeAround(listed.reason.at + settings.autoClosedHours * hourMs, actor.at, settings.timeZone)}`
        : ''
    throw new UserError(
      409,
      `${person.first_name} ${person.last_name} may still be in the building: nobody saw them leave, so the fire list lists them as Unconfirmed${until}. Erase them after that.`,
    )
  }
  // A marshal looking for them on a running roll call needs their name too.
  const running = await findActiveRollCall(db)
  if (running && (await lineStanding(db, running.id, personId)) !== undefined) {
    throw new UserError(
      409,
      `${person.first_name} ${person.last_name} is on the roll call running now: erasing them would take their name off it. Erase them once it has ended.`,
    )
  }
  return person
}

const hourMs = 60 * 60 * 1000

async function plan(db: Db, person: Person, traces: Traces): Promise<ErasurePlan> {
  const lines: ErasureLine[] = []
  for (const [table, { column, contactColumn, erase }] of Object.entries(PERSON_TABLES)) {
    const rows = await countRowsAbout(db, {
      table,
      column,
      contactColumn,
      personId: person.id,
      contacts: traces.contacts,
    })
    if (rows > 0) lines.push({ table, rows, action: policyAction(erase) })
  }
  const changes = await textChanges(db, traces)
  for (const { table } of FREE_TEXT) {
    const rows = changes.filter((c) => c.table === table).length
    if (rows > 0) lines.push({ table: `${table} (mentions elsewhere)`, rows, action: 'scrubbed' })
  }
  return { person, lines }
}

/**
 * The dry run: what erasing this person would delete, anonymise, keep and scrub, changing
 * nothing. Refused (409) like the erasure itself: the last admin, oneself, someone already erased,
 * someone the fire list or a running roll call lists (they need their name).
 */
export async function planErasure(
  db: Db,
  actor: AdminActor,
  personId: number,
  fireList: FireListSettings,
): Promise<ErasurePlan> {
  const person = await checkErasable(db, actor, personId, fireList)
  return plan(db, person, await tracesOf(db, person))
}

/**
 * Erases a person (a data-protection request), refused while they are signed in (also when a
 * sign-in commits while the erasure runs), while the fire list still lists them as Unconfirmed
 * (closed unseen: deactivated while inside, the nightly auto-close) and while a running roll call
 * has a line for them: devices revoked, then contacts, devices, codes, messages, SSO and directory links and their audit trail
 * deleted; their name replaced in copies (roll calls) and in free text elsewhere; visits,
 * reminders and roll-call marks kept as anonymous rows, so statistics do not change. The audit
 * trail keeps one row: that an erasure happened and who did it. One transaction.
 */
export async function erasePerson(
  db: Db,
  actor: AdminActor,
  personId: number,
  fireList: FireListSettings,
): Promise<ErasurePlan> {
  return unitOfWork(db, async (trx) => {
    const person = await checkErasable(trx, actor, personId, fireList)
    const traces = await tracesOf(trx, person)
    const { devicesRevoked, closedVisit } =
      person.deactivated_at === null
        ? await stopPerson(trx, personId, actor.at, 'admin')
        : { devicesRevoked: 0, closedVisit: undefined }
    // A sign-in that committed after the check above (PostgreSQL: another process, in the moment
    // between): closing it here would take someone who just came in off the fire list. The whole
    // erasure is undone instead.
    if (closedVisit) {
      throw new UserError(
        409,
        `${person.first_name} ${person.last_name} signed in just now, so nothing was erased: the fire list needs their name. Erase them once they have left.`,
      )
    }
    const done = await plan(trx, person, traces)
    for (const change of await textChanges(trx, traces)) {
      await replaceTextValue(trx, change.table, change.column, change.from, change.to)
    }
    // Anonymise first: a kept row may point at a row deleted below (broadcast → message).
    const entries = Object.entries(PERSON_TABLES).sort(
      ([, a], [, b]) => Number(a.erase === 'delete') - Number(b.erase === 'delete'),
    )
    for (const [table, { column, contactColumn, erase }] of entries) {
      const rows = { table, column, contactColumn, personId, contacts: traces.contacts }
      if (erase === 'delete') await deleteRowsAbout(trx, rows)
      else if (erase !== 'keep') await updateRowsAbout(trx, rows, erase.set)
    }
    await updatePerson(trx, personId, {
      ...ERASED_NAME,
      role: 'staff',
      erased_at: actor.at,
      deactivated_at: person.deactivated_at ?? actor.at,
      updated_at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.erased',
      context: actor.context,
      detail: { by: actor.personId, devicesRevoked },
    })
    return done
  })
}
