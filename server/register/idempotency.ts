import type { Db } from '../db/connect.js'
import { UserError } from '../lib/errors.js'
import { findIdempotentResponse, saveIdempotentResponse } from './idempotency.repository.js'

/**
 * Runs a request once per (device, Idempotency-Key): a retry with the same key gets the first
 * answer back, unchanged, without running again.
 */
export async function idempotent<T>(
  db: Db,
  request: { deviceId: number; key: string | undefined; at: number },
  run: () => Promise<T>,
): Promise<T> {
  const { key } = request
  if (key === undefined) return run()
  if (!/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new UserError(400, 'The Idempotency-Key header must be 1 to 200 visible ASCII characters.')
  }
  const previous = await findIdempotentResponse(db, request.deviceId, key)
  if (previous !== undefined) return previous as T
  const result = await run()
  await saveIdempotentResponse(db, { deviceId: request.deviceId, key, response: result, at: request.at })
  return (await findIdempotentResponse(db, request.deviceId, key)) as T
}
