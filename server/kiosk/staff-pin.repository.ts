import type { Db } from '../db/connect.js'

/** A person's PIN row. */
export interface StaffPinRow {
  person_id: number
  pin_hash: string
  failures: number
  locked_until: number | null
}

/** The PIN a person set, with its lockout state. */
export async function findStaffPin(db: Db, personId: number): Promise<StaffPinRow | undefined> {
  return db
    .selectFrom('staff_pin')
    .select(['person_id', 'pin_hash', 'failures', 'locked_until'])
    .where('person_id', '=', personId)
    .executeTakeFirst()
}

/** Sets (or replaces) a person's PIN hash, clearing any lockout. */
export async function upsertStaffPin(db: Db, personId: number, pinHash: string, at: number): Promise<void> {
  await db
    .insertInto('staff_pin')
    .values({ person_id: personId, pin_hash: pinHash, failures: 0, locked_until: null, updated_at: at })
    .onConflict((oc) =>
      oc
        .column('person_id')
        .doUpdateSet({ pin_hash: pinHash, failures: 0, locked_until: null, updated_at: at }),
    )
    .execute()
}

/** Removes a person's PIN. */
export async function deleteStaffPin(db: Db, personId: number): Promise<boolean> {
  const result = await db.deleteFrom('staff_pin').where('person_id', '=', personId).executeTakeFirst()
  return Number(result.numDeletedRows) > 0
}

/**
 * Takes one of a PIN's tries before it is checked, in one statement: counted as wrong until a right
 * PIN clears the count, so guesses sent at once cannot all be checked before the count catches up.
 * Returns the tries taken, or undefined when the PIN is locked or all `max` tries are taken.
 */
export async function claimPinTry(
  db: Db,
  personId: number,
  at: number,
  max: number,
): Promise<number | undefined> {
  const row = await db
    .updateTable('staff_pin')
    .set((eb) => ({ failures: eb('failures', '+', 1) }))
    .where('person_id', '=', personId)
    .where('failures', '<', max)
    .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', at)]))
    .returning('failures')
    .executeTakeFirst()
  return row?.failures
}

/**
 * Locks a PIN whose tries are all taken and were never cleared (a check that died half way), so it
 * frees itself after the lock; a PIN a right guess has cleared meanwhile is left alone.
 */
export async function lockSpentStaffPin(db: Db, personId: number, until: number, max: number): Promise<void> {
  await db
    .updateTable('staff_pin')
    .set({ locked_until: until, failures: 0 })
    .where('person_id', '=', personId)
    .where('failures', '>=', max)
    .execute()
}

/** Locks a PIN until an instant and starts the count again. */
export async function lockStaffPin(db: Db, personId: number, until: number): Promise<void> {
  await db
    .updateTable('staff_pin')
    .set({ locked_until: until, failures: 0 })
    .where('person_id', '=', personId)
    .execute()
}

/** A right PIN clears the count of wrong ones. */
export async function clearPinFailures(db: Db, personId: number): Promise<void> {
  await db
    .updateTable('staff_pin')
    .set({ failures: 0, locked_until: null })
    .where('person_id', '=', personId)
    .execute()
}

/** Records where a staff visit began or ended at a kiosk (door code or PIN). */
export async function insertVisitAtDoor(
  db: Db,
  row: {
    visitId: number
    kioskId: number | null
    action: 'signed-in' | 'signed-out'
    method: 'door-code' | 'pin'
    at: number
  },
): Promise<void> {
  await db
    .insertInto('visit_at_door')
    .values({
      visit_id: row.visitId,
      kiosk_id: row.kioskId,
      action: row.action,
      method: row.method,
      at: row.at,
    })
    .onConflict((oc) => oc.doNothing())
    .execute()
}

/** Claims a door code for a person: false when they already used this code. */
export async function claimDoorCode(
  db: Db,
  use: { kioskId: number; slot: number; personId: number; at: number },
): Promise<boolean> {
  const row = await db
    .insertInto('door_code_use')
    .values({ kiosk_id: use.kioskId, slot: use.slot, person_id: use.personId, used_at: use.at })
    .onConflict((oc) => oc.doNothing())
    .returning('kiosk_id')
    .executeTakeFirst()
  return row !== undefined
}
