import type { Db } from '../db/connect.js'

/** The stored first answer for a device's Idempotency-Key, if any. */
export async function findIdempotentResponse(
  db: Db,
  deviceId: number,
  key: string,
): Promise<unknown | undefined> {
  const row = await db
    .selectFrom('idempotency_key')
    .select('response')
    .where('device_id', '=', deviceId)
    .where('key', '=', key)
    .executeTakeFirst()
  return row ? JSON.parse(row.response) : undefined
}

/** Stores the first answer for a key; a concurrent duplicate keeps the earlier one. */
export async function saveIdempotentResponse(
  db: Db,
  entry: { deviceId: number; key: string; response: unknown; at: number },
): Promise<void> {
  await db
    .insertInto('idempotency_key')
    .values({
      device_id: entry.deviceId,
      key: entry.key,
      response: JSON.stringify(entry.response),
      created_at: entry.at,
    })
    .onConflict((oc) => oc.columns(['device_id', 'key']).doNothing())
    .execute()
}
