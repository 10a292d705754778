import { stopPerson } from '../admin/people.service.js'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Contact, ContactKind, Visit } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { maskContact, parseContact } from '../identity/contact.js'
import { findContactByValue, insertContact, listContacts } from '../identity/contact.repository.js'
import { nameFromElsewhere } from '../identity/person.js'
import { findPersonById, insertPerson, updatePerson } from '../identity/person.repository.js'
import {
  type DirectoryPerson,
  deleteDirectoryUser,
  findDirectoryUser,
  findDirectoryUserByName,
  insertDirectoryUser,
  listDirectoryUsers,
  updateDirectoryUser,
} from './directory-user.repository.js'
import { ScimError } from './scim-error.js'
import { applyPatch, currentFields, type DirectoryFields, parseFilter, parseUser } from './scim-user.js'

/** Who provisions: a directory sync token, when, from where. */
export interface DirectoryActor {
  tokenId: number
  at: number
  context: RequestContext
  defaultRegion: string
}

/** A directory user as it stands after a request, and a visit the request closed (to announce). */
export interface ScimResult {
  user: DirectoryPerson
  contacts: Contact[]
  closedVisit?: Visit
}

const maskName = (userName: string) => (userName.includes('@') ? maskContact(userName) : userName)

async function load(db: Db, personId: number): Promise<ScimResult> {
  const user = await findDirectoryUser(db, personId)
  if (!user) throw new ScimError(404, `User ${personId} not found.`)
  return { user, contacts: await listContacts(db, personId) }
}

/** One directory user by SCIM id (the person's id). */
export async function scimGetUser(db: Db, personId: number): Promise<ScimResult> {
  return load(db, personId)
}

/** A page of directory users (startIndex is 1-based), filtered as the providers ask. */
export async function scimListUsers(
  db: Db,
  query: { filter?: string; startIndex?: number; count?: number },
): Promise<{ total: number; startIndex: number; users: ScimResult[] }> {
  const filter = parseFilter(query.filter)
  const startIndex = Math.max(1, query.startIndex ?? 1)
  const count = Math.min(200, Math.max(0, query.count ?? 100))
  const { rows, total } = await listDirectoryUsers(db, filter, { offset: startIndex - 1, limit: count })
  const users = await Promise.all(
    rows.map(async (user) => ({ user, contacts: await listContacts(db, user.person_id) })),
  )
  return { total, startIndex, users }
}

/**
 * Creates (provisions) a user. A person who already has the user's email becomes directory-managed
 * (their history and devices stay); otherwise a new person. A userName already in use is a 409.
 */
export async function scimCreateUser(db: Db, actor: DirectoryActor, body: unknown): Promise<ScimResult> {
  const fields = parseUser(body)
  return unitOfWork(db, async (trx) => {
    if (await findDirectoryUserByName(trx, fields.userName))
      throw new ScimError(409, `A user with userName "${fields.userName}" already exists.`, 'uniqueness')
    const email = emailOf(fields, actor.defaultRegion)
    const owner = email ? await findContactByValue(trx, email) : undefined
    if (owner && (await findDirectoryUser(trx, owner.person_id)))
      throw new ScimError(
        409,
        `The email of "${fields.userName}" belongs to another directory user.`,
        'uniqueness',
      )
    let personId: number
    if (owner) {
      personId = owner.person_id
    } else {
      const name = names(fields)
      const person = await insertPerson(trx, {
        first_name: name.firstName,
        last_name: name.lastName,
        created_at: actor.at,
        updated_at: actor.at,
        deactivated_at: null,
      })
      personId = person.id
    }
    await insertDirectoryUser(trx, {
      personId,
      userName: fields.userName,
      externalId: fields.externalId,
      active: true,
      at: actor.at,
    })
    await audit(trx, actor, personId, owner ? 'directory.user-linked' : 'directory.user-created', {
      userName: maskName(fields.userName),
    })
    const before = currentFields((await findDirectoryUser(trx, personId))!, await listContacts(trx, personId))
    // A linked person keeps their name unless the directory sends one.
    const wanted =
      owner && !fields.givenName && !fields.familyName
        ? { ...fields, givenName: before.givenName, familyName: before.familyName }
        : fields
    return apply(
      trx,
      actor,
      personId,
      { ...before, active: owner ? (await findPersonById(trx, personId))!.deactivated_at === null : true },
      wanted,
    )
  })
}

/** Replaces a user (PUT) with what the directory sent. */
export async function scimReplaceUser(
  db: Db,
  actor: DirectoryActor,
  personId: number,
  body: unknown,
): Promise<ScimResult> {
  const fields = parseUser(body)
  return unitOfWork(db, async (trx) => {
    const { user, contacts } = await load(trx, personId)
    return apply(trx, actor, personId, currentFields(user, contacts), fields)
  })
}

/** Patches a user (PATCH with Operations), e.g. active=false when someone leaves. */
export async function scimPatchUser(
  db: Db,
  actor: DirectoryActor,
  personId: number,
  body: unknown,
): Promise<ScimResult> {
  return unitOfWork(db, async (trx) => {
    const { user, contacts } = await load(trx, personId)
    const before = currentFields(user, contacts)
    return apply(trx, actor, personId, before, applyPatch(before, body))
  })
}

/**
 * Deletes a user: the person is deactivated as a leaver (devices revoked, open visit closed) and
 * no longer directory-managed; their history stays.
 */
export async function scimDeleteUser(
  db: Db,
  actor: DirectoryActor,
  personId: number,
): Promise<{ closedVisit?: Visit }> {
  return unitOfWork(db, async (trx) => {
    const { user } = await load(trx, personId)
    const left = user.deactivated_at === null ? await deactivate(trx, actor, personId) : {}
    await deleteDirectoryUser(trx, personId)
    await audit(trx, actor, personId, 'directory.user-deleted', { userName: maskName(user.user_name) })
    return left
  })
}

function emailOf(fields: DirectoryFields, region: string): string | null {
  for (const candidate of [fields.email, fields.userName]) {
    if (!candidate) continue
    const parsed = parseContact(candidate, region)
    if (parsed.ok && parsed.contact.kind === 'email') return parsed.contact.value
  }
  return null
}

const names = (fields: DirectoryFields) =>
  nameFromElsewhere(
    fields.givenName,
    fields.familyName,
    fields.displayName,
    fields.userName.split('@')[0] ?? '',
  )

function audit(db: Db, actor: DirectoryActor, personId: number, action: string, detail: object) {
  return recordAudit(db, {
    at: actor.at,
    personId,
    action,
    context: actor.context,
    detail: { ...detail, tokenId: actor.tokenId },
  })
}

/** Adds a contact the directory gave when it is usable and nobody has it yet. */
async function addContact(
  db: Db,
  actor: DirectoryActor,
  personId: number,
  kind: ContactKind,
  value: string | null,
) {
  if (!value) return
  const parsed = parseContact(value, actor.defaultRegion)
  if (!parsed.ok || parsed.contact.kind !== kind) return
  const owner = await findContactByValue(db, parsed.contact.value)
  if (owner) return
  await insertContact(db, { personId, kind, value: parsed.contact.value, at: actor.at })
  return parsed.contact.value
}

/** The person leaves: every device revoked, an open visit closed (as not a real sign-out), deactivated. */
async function deactivate(db: Db, actor: DirectoryActor, personId: number): Promise<{ closedVisit?: Visit }> {
  // 'directory': nobody saw them leave. The fire list keeps them unconfirmed for a while as after the
  // nightly auto-close (they may still be inside), reports never count it as a sign-out.
  const { devicesRevoked, closedVisit } = await stopPerson(db, personId, actor.at, 'directory')
  await audit(db, actor, personId, 'directory.user-deactivated', {
    devicesRevoked,
    closedVisitId: closedVisit?.id ?? null,
  })
  return { closedVisit }
}

async function apply(
  db: Db,
  actor: DirectoryActor,
  personId: number,
  before: DirectoryFields,
  fields: DirectoryFields,
): Promise<ScimResult> {
  if (fields.userName.toLowerCase() !== before.userName.toLowerCase()) {
    const other = await findDirectoryUserByName(db, fields.userName)
    if (other && other.person_id !== personId)
      throw new ScimError(409, `A user with userName "${fields.userName}" already exists.`, 'uniqueness')
  }
  const changed: string[] = []
  const name = names(fields)
  if (name.firstName !== before.givenName || name.lastName !== before.familyName) {
    await updatePerson(db, personId, {
      first_name: name.firstName,
      last_name: name.lastName,
      updated_at: actor.at,
    })
    changed.push('name')
  }
  if (fields.userName !== before.userName) changed.push('userName')
  if (fields.externalId !== before.externalId) changed.push('externalId')
  if (await addContact(db, actor, personId, 'email', emailOf(fields, actor.defaultRegion)))
    changed.push('email')
  if (await addContact(db, actor, personId, 'phone', fields.phone)) changed.push('phone')
  await updateDirectoryUser(db, personId, {
    userName: fields.userName,
    externalId: fields.externalId,
    active: fields.active,
    at: actor.at,
  })
  if (changed.length) await audit(db, actor, personId, 'directory.user-updated', { changed })

  let closedVisit: Visit | undefined
  const person = (await findPersonById(db, personId))!
  if (!fields.active && person.deactivated_at === null) {
    closedVisit = (await deactivate(db, actor, personId)).closedVisit
  } else if (fields.active && !before.active && person.deactivated_at !== null) {
    await updatePerson(db, personId, { deactivated_at: null, updated_at: actor.at })
    await audit(db, actor, personId, 'directory.user-reactivated', {})
  }
  return { ...(await load(db, personId)), closedVisit }
}
