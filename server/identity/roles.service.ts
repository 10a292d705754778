import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Person, Role } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { UserError } from '../lib/errors.js'
import { maskContact } from './contact.js'
import { findPersonById, updatePerson } from './person.repository.js'
import { countActiveAdmins, hasRoleHistory } from './roles.repository.js'

/** Who performs an admin action: a signed-in admin, or the command line (personId null). */
export interface AdminActor {
  personId: number | null
  at: number
  context: RequestContext
}

/** The context recorded for actions taken from the command line. */
export function cliContext(command: string): RequestContext {
  return { ip: 'cli', userAgent: command }
}

/**
 * Gives a person exactly this role (grant or revoke). Refuses to leave the site without an active
 * admin. Audited as `role.granted` or `role.revoked` on the person, with who did it.
 */
export async function setRole(db: Db, actor: AdminActor, personId: number, role: Role): Promise<Person> {
  return unitOfWork(db, async (trx) => {
    const person = await findPersonById(trx, personId)
    if (!person) throw new UserError(404, 'There is no such person.')
    if (person.role === role) return person
    if (person.role === 'admin' && person.deactivated_at === null && (await countActiveAdmins(trx)) <= 1) {
      throw new UserError(409, 'This is the only administrator. Make someone else an administrator first.')
    }
    await updatePerson(trx, personId, { role, updated_at: actor.at })
    await recordAudit(trx, {
      at: actor.at,
      personId,
      action: rank(role) > rank(person.role) ? 'role.granted' : 'role.revoked',
      context: actor.context,
      detail: { from: person.role, to: role, by: actor.personId },
    })
    return { ...person, role, updated_at: actor.at }
  })
}

const rank = (role: Role) => ({ staff: 0, reception: 1, admin: 2 })[role]

/**
 * ADMIN_CONTACTS: a person who verifies one of these contacts becomes admin, once. If an admin has
 * since changed their role (granted or revoked), the list no longer applies to them.
 */
export async function applyAdminContacts(
  db: Db,
  request: {
    person: Person
    contactValue: string
    adminContacts: readonly string[]
    at: number
    context: RequestContext
  },
): Promise<Person> {
  const { person } = request
  if (person.role === 'admin' || !request.adminContacts.includes(request.contactValue)) return person
  if (await hasRoleHistory(db, person.id)) return person
  await updatePerson(db, person.id, { role: 'admin', updated_at: request.at })
  await recordAudit(db, {
    at: request.at,
    personId: person.id,
    action: 'role.granted',
    context: request.context,
    detail: {
      from: person.role,
      to: 'admin',
      by: null,
      via: 'ADMIN_CONTACTS',
      contact: maskContact(request.contactValue),
    },
  })
  return { ...person, role: 'admin', updated_at: request.at }
}
