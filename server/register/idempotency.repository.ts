import type { Db } from '../db/connect.js'

/** The stored response of a claim still running: the first request has not answered yet. */
const RUNNING = ''

/** What a key holds: the first answer, or a request still running (since when), with its request's hash. */
export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'answered'; response: unknown; requestHash: string | null }
  | { state: 'running'; since: number; requestHash: string | null }

/**
 * Claims a device's Idempotency-Key for one request, atomically (the primary key decides between
 * concurrent requests, in one process or many): 'claimed' means this request runs; otherwise the
 * key's first answer, or that it is still running, with the hash of the request it belongs to. A
 * claim left running for longer than `abandonAfterMs` (its process died) is taken over by the same
 * request.
 */
export async function claimIdempotencyKey(
  db: Db,
  entry: { deviceId: number; key: string; requestHash: string; at: number; abandonAfterMs: number },
): Promise<IdempotencyClaim> {
  const inserted = await db
    .insertInto('idempotency_key')
    .values({
      device_id: entry.deviceId,
      key: entry.key,
      response: RUNNING,
      request_hash: entry.requestHash,
      created_at: entry.at,
    })
    .onConflict((oc) => oc.columns(['device_id', 'key']).doNothing())
    .executeTakeFirst()
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return { state: 'claimed' }
  const takenOver = await db
    .updateTable('idempotency_key')
    .set({ created_at: entry.at })
    .where('device_id', '=', entry.deviceId)
    .where('key', '=', entry.key)
    .where('response', '=', RUNNING)
    .where('request_hash', '=', entry.requestHash)
    .where('created_at', '<', entry.at - entry.abandonAfterMs)
    .executeTakeFirst()
  if (Number(takenOver.numUpdatedRows) === 1) return { state: 'claimed' }
  const row = await db
    .selectFrom('idempotency_key')
    .select(['response', 'request_hash', 'created_at'])
    .where('device_id', '=', entry.deviceId)
    .where('key', '=', entry.key)
    .executeTakeFirst()
  // Released between our insert and our read (the first request failed): this one may run.
  if (!row) return claimIdempotencyKey(db, entry)
  if (row.response === RUNNING)
    return { state: 'running', since: row.created_at, requestHash: row.request_hash }
  return { state: 'answered', response: JSON.parse(row.response), requestHash: row.request_hash }
}

/** Stores the first answer for a claimed key. */
export async function saveIdempotentResponse(
  db: Db,
  entry: { deviceId: number; key: string; response: unknown },
): Promise<void> {
  await db
    .updateTable('idempotency_key')
    .set({ response: JSON.stringify(entry.response) })
    .where('device_id', '=', entry.deviceId)
    .where('key', '=', entry.key)
    .execute()
}

/** Releases a claim whose request failed, so a retry with the same key runs again. */
export async function releaseIdempotencyKey(db: Db, entry: { deviceId: number; key: string }): Promise<void> {
  await db
    .deleteFrom('idempotency_key')
    .where('device_id', '=', entry.deviceId)
    .where('key', '=', entry.key)
    .where('response', '=', RUNNING)
    .execute()
}
