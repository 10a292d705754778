import type { Db } from '../db/connect.js'
import type { Kiosk } from '../db/database.js'

/** Inserts a kiosk waiting to be paired with the given pairing code hash. */
export async function insertKiosk(
  db: Db,
  kiosk: { name: string; pairingCodeHash: string; pairingExpiresAt: number; by: number | null; at: number },
): Promise<Kiosk> {
  return db
    .insertInto('kiosk')
    .values({
      name: kiosk.name,
      token_hash: null,
      pairing_code_hash: kiosk.pairingCodeHash,
      pairing_expires_at: kiosk.pairingExpiresAt,
      paired_at: null,
      last_seen_at: null,
      created_by: kiosk.by,
      created_at: kiosk.at,
      removed_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow()
}

/** A kiosk by id (removed ones included). */
export async function findKiosk(db: Db, id: number): Promise<Kiosk | undefined> {
  return db.selectFrom('kiosk').selectAll().where('id', '=', id).executeTakeFirst()
}

/** Every kiosk not removed, by name. */
export async function listKiosks(db: Db): Promise<Kiosk[]> {
  return db
    .selectFrom('kiosk')
    .selectAll()
    .where('removed_at', 'is', null)
    .orderBy('name')
    .orderBy('id')
    .execute()
}

/** Replaces a kiosk's pairing code (the previous one stops working). */
export async function setPairingCode(db: Db, id: number, hash: string, expiresAt: number): Promise<boolean> {
  const result = await db
    .updateTable('kiosk')
    .set({ pairing_code_hash: hash, pairing_expires_at: expiresAt })
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

/**
 * Pairs the kiosk holding a live pairing code: the code is consumed and the token set in one
 * statement, so a code pairs at most one tablet even if two race.
 */
export async function consumePairingCode(
  db: Db,
  pairing: { codeHash: string; tokenHash: string; at: number },
): Promise<Kiosk | undefined> {
  return db
    .updateTable('kiosk')
    .set({
      token_hash: pairing.tokenHash,
      pairing_code_hash: null,
      pairing_expires_at: null,
      paired_at: pairing.at,
      last_seen_at: pairing.at,
    })
    .where('pairing_code_hash', '=', pairing.codeHash)
    .where('pairing_expires_at', '>', pairing.at)
    .where('removed_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** The live kiosk holding a token hash. */
export async function findKioskByToken(db: Db, tokenHash: string): Promise<Kiosk | undefined> {
  return db
    .selectFrom('kiosk')
    .selectAll()
    .where('token_hash', '=', tokenHash)
    .where('removed_at', 'is', null)
    .executeTakeFirst()
}

/** Records the kiosk's last contact. */
export async function touchKiosk(db: Db, id: number, at: number): Promise<void> {
  await db.updateTable('kiosk').set({ last_seen_at: at }).where('id', '=', id).execute()
}

/** Forgets a kiosk's token (and any pairing code): the tablet is no longer paired. */
export async function unpairKioskRow(db: Db, id: number): Promise<Kiosk | undefined> {
  return db
    .updateTable('kiosk')
    .set({ token_hash: null, paired_at: null, pairing_code_hash: null, pairing_expires_at: null })
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** Removes a kiosk from the list; its token stops working. */
export async function removeKioskRow(db: Db, id: number, at: number): Promise<Kiosk | undefined> {
  return db
    .updateTable('kiosk')
    .set({ token_hash: null, pairing_code_hash: null, pairing_expires_at: null, removed_at: at })
    .where('id', '=', id)
    .where('removed_at', 'is', null)
    .returningAll()
    .executeTakeFirst()
}

/** Every active person's name (only those with a kiosk PIN, with `withPin`), for the kiosk's name search. */
export async function listActivePeopleNames(db: Db, options: { withPin?: boolean } = {}) {
  let query = db
    .selectFrom('person')
    .select(['person.id as personId', 'person.first_name as firstName', 'person.last_name as lastName'])
    .where('person.deactivated_at', 'is', null)
  if (options.withPin) query = query.innerJoin('staff_pin', 'staff_pin.person_id', 'person.id')
  return query.execute()
}
