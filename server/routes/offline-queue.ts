import type { FastifyError } from 'fastify'

/** The statuses web/queue.js keeps a saved request for and sends again later. */
const KEPT_BY_THE_QUEUE = new Set([401, 403, 409, 429])

/**
 * True when web/queue.js will not send a saved request again after this error: any 4xx but the
 * ones it keeps the request for (5xx and a busy database, which has no status, are kept too).
 */
export function refusedForGood(error: Pick<FastifyError, 'statusCode'>): boolean {
  const status = error.statusCode ?? 500
  return status >= 400 && status < 500 && !KEPT_BY_THE_QUEUE.has(status)
}
