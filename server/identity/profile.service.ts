import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Contact, Device, Person } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { UserError } from '../lib/errors.js'
import { maskContact } from './contact.js'
import { deleteContact, listContacts } from './contact.repository.js'
import { listActiveDevices, revokeDevice, revokeDevicesOfKind } from './device.repository.js'
import { NameError, parseName } from './person.js'
import { updatePerson } from './person.repository.js'

interface Actor {
  personId: number
  at: number
  context: RequestContext
}

/** A person's own contacts and active devices, for their profile page. */
export async function ownProfile(
  db: Db,
  personId: number,
): Promise<{ contacts: Contact[]; devices: Device[] }> {
  const [contacts, devices] = await Promise.all([listContacts(db, personId), listActiveDevices(db, personId)])
  return { contacts, devices }
}

/** Changes a person's name; throws NameError (422) with per-field messages when unusable. */
export async function renamePerson(
  db: Db,
  actor: Actor,
  input: { firstName: unknown; lastName: unknown },
): Promise<Pick<Person, 'first_name' | 'last_name'>> {
  const name = parseName(input.firstName, input.lastName)
  if (!name.ok) throw new NameError(name.errors)
  await unitOfWork(db, async (trx) => {
    await updatePerson(trx, actor.personId, {
      first_name: name.firstName,
      last_name: name.lastName,
      updated_at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'profile.renamed',
      context: actor.context,
      detail: { firstName: name.firstName, lastName: name.lastName },
    })
  })
  return { first_name: name.firstName, last_name: name.lastName }
}

/** Revokes one of the person's own devices; it stops working on its next request. */
export async function revokeOwnDevice(db: Db, actor: Actor, deviceId: number): Promise<Device> {
  return unitOfWork(db, async (trx) => {
    const device = await revokeDevice(trx, actor.personId, deviceId, actor.at)
    if (!device) throw new UserError(404, 'That device is not on your list (it may already be signed out).')
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'device.revoked',
      context: actor.context,
      detail: { deviceId, name: device.name, kind: device.kind },
    })
    return device
  })
}

/** Turns off the person's personal sign-in link. */
export async function revokeOwnLinks(db: Db, actor: Actor): Promise<number> {
  return unitOfWork(db, async (trx) => {
    const count = await revokeDevicesOfKind(trx, actor.personId, 'link', actor.at)
    if (count)
      await recordAudit(trx, {
        at: actor.at,
        personId: actor.personId,
        action: 'link.revoked',
        context: actor.context,
      })
    return count
  })
}

/** Removes one of the person's contacts, but never the last one (they could not sign in again). */
export async function removeOwnContact(db: Db, actor: Actor, contactId: number): Promise<void> {
  await unitOfWork(db, async (trx) => {
    const contacts = await listContacts(trx, actor.personId)
    const contact = contacts.find((c) => c.id === contactId)
    if (!contact) throw new UserError(404, 'That contact is not on your profile.')
    if (contacts.length === 1)
      throw new UserError(
        422,
        'You need at least one contact to sign in. Add another before removing this one.',
      )
    await deleteContact(trx, actor.personId, contactId)
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'contact.removed',
      context: actor.context,
      detail: { contact: maskContact(contact.value) },
    })
  })
}
