import { createHash } from 'node:crypto'
import type { Db } from '../db/connect.js'
import { UserError } from '../lib/errors.js'
import {
  claimIdempotencyKey,
  releaseIdempotencyKey,
  saveIdempotentResponse,
} from './idempotency.repository.js'

/** A claim still running after this long belongs to a process that died: a retry takes it over. */
export const IDEMPOTENCY_ABANDON_MS = 30_000

/** The key was first used with another request: refused, never answered with that request's result. */
export class IdempotencyKeyReused extends UserError {
  constructor() {
    super(
      422,
      'This Idempotency-Key was already used for a different request. Use a new key for each action.',
    )
  }
}

/** The first request with this key is still running: the copy is told to ask again in a moment. */
export class IdempotentRequestInFlight extends UserError {
  constructor() {
    super(409, 'The same request is still being handled. Try again in a moment.', { 'retry-after': '1' })
  }
}

/** What a key is bound to: the request's method, path and the body fields that define the action. */
export interface IdempotentRequest {
  method: string
  path: string
  body: unknown
}

/** SHA-256 of method, path and body (object keys sorted, so field order does not matter). */
export function requestHash(request: IdempotentRequest): string {
  const canonical = (value: unknown): unknown =>
    value && typeof value === 'object' && !Array.isArray(value)
      ? Object.fromEntries(
          Object.keys(value)
            .sort()
            .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
        )
      : value
  return createHash('sha256')
    .update(`${request.method.toUpperCase()} ${request.path.split('?')[0]}\n`)
    .update(JSON.stringify(canonical(request.body ?? null)))
    .digest('hex')
}

/**
 * Runs a request once per (device, Idempotency-Key): a retry of the same request with the same key
 * gets the first answer back, unchanged, without running again. The key is bound to the request it
 * was first used with; the same key with another route or body is refused (422), never answered
 * with someone else's result. The key is claimed in the database before the request runs, so two
 * concurrent requests with one key (on one process or several) never both run: the second is told
 * to retry in a moment (409).
 */
export async function idempotent<T>(
  db: Db,
  request: { deviceId: number; key: string | undefined; at: number; request: IdempotentRequest },
  run: () => Promise<T>,
): Promise<T> {
  const { key } = request
  if (key === undefined) return run()
  if (!/^[\x21-\x7e]{1,200}$/.test(key)) {
    throw new UserError(400, 'The Idempotency-Key header must be 1 to 200 visible ASCII characters.')
  }
  const hash = requestHash(request.request)
  const entry = { deviceId: request.deviceId, key }
  const claim = await claimIdempotencyKey(db, {
    ...entry,
    requestHash: hash,
    at: request.at,
    abandonAfterMs: IDEMPOTENCY_ABANDON_MS,
  })
  if (claim.state !== 'claimed' && claim.requestHash !== null && claim.requestHash !== hash) {
    throw new IdempotencyKeyReused()
  }
  if (claim.state === 'answered') return claim.response as T
  if (claim.state === 'running') throw new IdempotentRequestInFlight()
  let result: T
  try {
    result = await run()
  } catch (error) {
    await releaseIdempotencyKey(db, entry)
    throw error
  }
  await saveIdempotentResponse(db, { ...entry, response: result })
  // The answer as a retry will see it (JSON), so the first and the repeated answers are identical.
  return JSON.parse(JSON.stringify(result)) as T
}
