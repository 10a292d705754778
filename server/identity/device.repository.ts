import type { Db } from '../db/connect.js'
import type { Device, DeviceKind, Person, SignInMethod } from '../db/database.js'
import { preparedQuery } from '../db/prepared-query.js'

/** Stores a new device token hash for a person. */
export async function insertDevice(
  db: Db,
  device: {
    personId: number
    kind: DeviceKind
    tokenHash: string
    name: string
    userAgent: string
    at: number
    signedInWith?: SignInMethod
  },
): Promise<Device> {
  return db
    .insertInto('device')
    .values({
      person_id: device.personId,
      kind: device.kind,
      token_hash: device.tokenHash,
      name: device.name,
      user_agent: device.userAgent,
      created_at: device.at,
      last_used_at: device.at,
      signed_in_with: device.signedInWith ?? 'code',
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** What a signed-in request knows of its device: what the checks and routes use, not its name or user agent. */
export type ActiveDevice = Pick<Device, 'id' | 'person_id' | 'kind' | 'last_used_at' | 'signed_in_with'>

// Every signed-in request runs this: built once. Only the device's columns a request uses: the
// name, user agent and token hash were a third of the row's strings, read and dropped every tap.
const activeDeviceQuery = preparedQuery((db, v: { tokenHash: string }) =>
  db
    .selectFrom('device')
    .innerJoin('person', 'person.id', 'device.person_id')
    .select([
      'device.id',
      'device.person_id',
      'device.kind',
      'device.last_used_at',
      'device.signed_in_with',
      'person.first_name',
      'person.last_name',
      'person.role',
      'person.created_at as person_created_at',
      'person.updated_at as person_updated_at',
      'person.deactivated_at',
    ])
    .where('device.token_hash', '=', v.tokenHash)
    .where('device.revoked_at', 'is', null)
    .where('person.deactivated_at', 'is', null),
)

/** The live (not revoked) device with this token hash, with its active person. */
export async function findActiveDevice(
  db: Db,
  tokenHash: string,
): Promise<{ device: ActiveDevice; person: Person } | undefined> {
  const [row] = await activeDeviceQuery(db, { tokenHash })
  if (!row) return undefined
  const { first_name, last_name, role, person_created_at, person_updated_at, deactivated_at, ...device } = row
  return {
    device,
    person: {
      id: device.person_id,
      first_name,
      last_name,
      role,
      created_at: person_created_at,
      updated_at: person_updated_at,
      deactivated_at,
      // Erasure deactivates: an active person was never erased.
      erased_at: null,
    },
  }
}

const touchDeviceQuery = preparedQuery((db, v: { id: number; at: number; staleBefore: number }) =>
  db
    .updateTable('device')
    .set({ last_used_at: v.at })
    .where('id', '=', v.id)
    .where('last_used_at', '<', v.staleBefore),
)

/** A device's last use is written again only when this much older: most requests stay read-only. */
export const DEVICE_USE_RECORDED_EVERY_MS = 60_000

/** Records that a device was used (callers do this at most once a minute). */
export async function touchDevice(db: Db, id: number, at: number): Promise<void> {
  await touchDeviceQuery(db, { id, at, staleBefore: at - DEVICE_USE_RECORDED_EVERY_MS })
}

/** A person's devices that are still live, most recently used first. */
export async function listActiveDevices(db: Db, personId: number): Promise<Device[]> {
  return db
    .selectFrom('device')
    .selectAll()
    .where('person_id', '=', personId)
    .where('revoked_at', 'is', null)
    .orderBy('last_used_at', 'desc')
    .execute()
}

/** Revokes one of a person's devices; returns the device if it was live. */
export async function revokeDevice(
  db: Db,
  personId: number,
  deviceId: number,
  at: number,
): Promise<Device | undefined> {
  return db
    .updateTable('device')
    .set({ revoked_at: at })
    .where('id', '=', deviceId)
    .where('person_id', '=', personId)
    .where('revoked_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** Revokes every live device of a kind for a person (e.g. the previous sign-in link). */
export async function revokeDevicesOfKind(
  db: Db,
  personId: number,
  kind: DeviceKind,
  at: number,
): Promise<number> {
  const result = await db
    .updateTable('device')
    .set({ revoked_at: at })
    .where('person_id', '=', personId)
    .where('kind', '=', kind)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}
