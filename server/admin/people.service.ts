import { recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Person, Role, Visit } from '../db/database.js'
import { NameError, parseName } from '../identity/person.js'
import { findPersonById, updatePerson } from '../identity/person.repository.js'
import { hasRole } from '../identity/roles.js'
import { countActiveAdmins } from '../identity/roles.repository.js'
import type { AdminActor } from '../identity/roles.service.js'
import { UserError } from '../lib/errors.js'
import { closeVisit, findOpenVisit } from '../register/visit.repository.js'
import { findVisitOf, moveBelongings, revokeAllDevices } from './people.repository.js'

async function requirePerson(db: Db, id: number): Promise<Person> {
  const person = await findPersonById(db, id)
  if (!person) throw new UserError(404, 'There is no such person.')
  return person
}

async function refuseLastAdmin(db: Db, person: Person, what: string): Promise<void> {
  if (person.role === 'admin' && person.deactivated_at === null && (await countActiveAdmins(db)) <= 1) {
    throw new UserError(409, `${what} would leave nobody able to administer the site.`)
  }
}

/** Renames someone; throws NameError (422) with per-field messages when unusable. */
export async function adminRename(
  db: Db,
  actor: AdminActor,
  personId: number,
  input: { firstName: unknown; lastName: unknown },
): Promise<void> {
  const name = parseName(input.firstName, input.lastName)
  if (!name.ok) throw new NameError(name.errors)
  await db.transaction().execute(async (trx) => {
    const person = await requirePerson(trx, personId)
    await updatePerson(trx, personId, {
      first_name: name.firstName,
      last_name: name.lastName,
      updated_at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.renamed',
      context: actor.context,
      detail: {
        from: `${person.first_name} ${person.last_name}`,
        firstName: name.firstName,
        lastName: name.lastName,
        by: actor.personId,
      },
    })
  })
}

/** What deactivation did. */
export interface DeactivateResult {
  devicesRevoked: number
  closedVisit: Visit | undefined
}

/**
 * Deactivates someone: every device is revoked, an open visit is closed now as `admin`, history
 * stays. They cannot sign in again until reactivated.
 */
export async function deactivatePerson(
  db: Db,
  actor: AdminActor,
  personId: number,
): Promise<DeactivateResult> {
  if (actor.personId === personId) throw new UserError(409, 'You cannot deactivate yourself.')
  return db.transaction().execute(async (trx) => {
    const person = await requirePerson(trx, personId)
    if (person.deactivated_at !== null) throw new UserError(409, 'This person is already deactivated.')
    await refuseLastAdmin(trx, person, 'Deactivating the only administrator')
    const devicesRevoked = await revokeAllDevices(trx, personId, actor.at)
    const open = await findOpenVisit(trx, personId)
    const closedVisit = open
      ? await closeVisit(trx, open.id, Math.max(actor.at, open.signed_in_at), 'admin')
      : undefined
    await updatePerson(trx, personId, { deactivated_at: actor.at, updated_at: actor.at })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.deactivated',
      context: actor.context,
      detail: { devicesRevoked, closedVisitId: closedVisit?.id ?? null, by: actor.personId },
    })
    return { devicesRevoked, closedVisit }
  })
}

/** Lets a deactivated person sign in again (with a new code; their old devices stay revoked). */
export async function reactivatePerson(db: Db, actor: AdminActor, personId: number): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const person = await requirePerson(trx, personId)
    if (person.deactivated_at === null) throw new UserError(409, 'This person is already active.')
    await updatePerson(trx, personId, { deactivated_at: null, updated_at: actor.at })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: 'person.reactivated',
      context: actor.context,
      detail: { by: actor.personId },
    })
  })
}

/** What a merge moved. */
export interface MergeResult {
  contacts: number
  visits: number
  devices: number
  auditEvents: number
  /** A duplicate open visit closed so the kept person has at most one. */
  closedVisit: Visit | undefined
}

/**
 * Merges `removeId` into `keepId` (the same human with two accounts, e.g. email and phone):
 * contacts, visits, devices, codes and audit rows move to the kept person, who gets the higher
 * of the two roles. If both have an open visit, the later one is closed as `admin` at its own
 * sign-in time (the earlier visit already covers it). The emptied person is deactivated.
 */
export async function mergePeople(
  db: Db,
  actor: AdminActor,
  keepId: number,
  removeId: number,
): Promise<MergeResult> {
  if (keepId === removeId) throw new UserError(422, 'Choose two different people to merge.')
  if (actor.personId === removeId) {
    throw new UserError(409, 'You cannot merge your own account away. Merge the other account into yours.')
  }
  return db.transaction().execute(async (trx) => {
    const keep = await requirePerson(trx, keepId)
    const remove = await requirePerson(trx, removeId)
    const openKeep = await findOpenVisit(trx, keepId)
    const openRemove = await findOpenVisit(trx, removeId)
    let closedVisit: Visit | undefined
    if (openKeep && openRemove) {
      const later = openKeep.signed_in_at > openRemove.signed_in_at ? openKeep : openRemove
      closedVisit = await closeVisit(trx, later.id, later.signed_in_at, 'admin')
    }
    const moved = await moveBelongings(trx, removeId, keepId)
    const role: Role = hasRole(keep.role, remove.role) ? keep.role : remove.role
    await updatePerson(trx, keepId, {
      role,
      updated_at: actor.at,
      ...(keep.deactivated_at !== null && remove.deactivated_at === null ? { deactivated_at: null } : {}),
    })
    await updatePerson(trx, removeId, { role: 'staff', deactivated_at: actor.at, updated_at: actor.at })
    const detail = {
      kept: { id: keepId, name: `${keep.first_name} ${keep.last_name}` },
      removed: { id: removeId, name: `${remove.first_name} ${remove.last_name}` },
      moved,
      closedVisitId: closedVisit?.id ?? null,
      role,
      by: actor.personId,
    }
    await recordAudit(trx, {
      at: actor.at,
      personId: keepId,
      action: 'person.merged',
      context: actor.context,
      detail,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: removeId,
      action: 'person.merged-away',
      context: actor.context,
      detail,
    })
    return { ...moved, closedVisit }
  })
}

/**
 * Closes someone's visit (typically one they forgot) at a given time, as `admin`, with a note.
 * The time must be after the sign-in and not in the future.
 */
export async function adminCloseVisit(
  db: Db,
  actor: AdminActor,
  request: { personId: number; visitId: number; leftAt: number | null; note: string },
): Promise<Visit> {
  const note = request.note.trim().replace(/\s+/g, ' ').slice(0, 200)
  return db.transaction().execute(async (trx) => {
    const visit = await findVisitOf(trx, request.personId, request.visitId)
    if (!visit) throw new UserError(404, 'That visit does not exist.')
    if (visit.signed_out_at !== null) throw new UserError(409, 'That visit is already closed.')
    const { leftAt } = request
    if (leftAt === null)
      throw new UserError(422, 'Enter the day and time they left, like 2026-11-20 and 17:30.')
    if (leftAt < visit.signed_in_at)
      throw new UserError(422, 'They left after they signed in: enter a later time.')
    if (leftAt > actor.at) throw new UserError(422, 'That time is in the future.')
    const closed = await closeVisit(trx, visit.id, leftAt, 'admin')
    if (!closed) throw new UserError(409, 'That visit is already closed.')
    await recordAudit(trx, {
      at: actor.at,
      personId: request.personId,
      action: 'visit.closed-by-admin',
      context: actor.context,
      detail: { visitId: visit.id, leftAt, note, by: actor.personId },
    })
    return closed
  })
}
