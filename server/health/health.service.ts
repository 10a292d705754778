import type { Redis } from 'ioredis'
import type { Db } from '../db/connect.js'
import { pingDatabase, probeWrite } from '../db/health.repository.js'
import { writeHealthOf } from '../db/write-health.js'

/** Why the process is unhealthy, for the load balancer and the log. */
export class UnhealthyError extends Error {}

/**
 * Resolves when the services a request needs answer (the database); rejects with the cause
 * otherwise. After a write failed for lack of storage (disk full, read-only file), the process
 * stays unhealthy until a write succeeds again: the check then writes its probe row itself, so a
 * quiet site recovers as soon as the disk does.
 */
export async function checkHealth(db: Db, now: number): Promise<void> {
  await pingDatabase(db)
  const health = writeHealthOf(db)
  if (health.failure === undefined) return
  try {
    await probeWrite(db, now)
  } catch (error) {
    throw new UnhealthyError(`Writes are failing: ${(error as Error).message}`)
  }
}

/** How long a health check waits for Redis before calling it down. */
const REDIS_PING_MS = 1000

/**
 * Whether Redis answers within a second and, when `liveReady` is given, this process is subscribed
 * to the live channel (connected but not subscribed would miss other processes' updates).
 */
export async function checkRedis(
  redis: Pick<Redis, 'ping'>,
  liveReady: (() => boolean) | null,
): Promise<'ok' | 'down'> {
  const timeout = new Promise<'down'>((resolve) => setTimeout(resolve, REDIS_PING_MS, 'down').unref())
  const ping = redis.ping().then(
    () => 'ok' as const,
    () => 'down' as const,
  )
  const answer = await Promise.race([ping, timeout])
  return answer === 'ok' && (liveReady?.() ?? true) ? 'ok' : 'down'
}
