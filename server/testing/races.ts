import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { connectPostgres, type Db } from '../db/connect.js'
import { eventually } from './eventually.js'
import { freshPostgresDatabase } from './test-database.js'

/** A promise and what resolves it: one side of a race holds until the test says go. */
export function latch(): { reached: Promise<void>; open: () => void } {
  let open!: () => void
  const reached = new Promise<void>((resolve) => {
    open = resolve
  })
  return { reached, open }
}

/** True while a statement on this PostgreSQL database waits for a lock another transaction holds. */
export async function someoneWaitsForALock(db: Db): Promise<boolean> {
  const { rows } = await sql<{ n: number }>`select count(*) as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`.execute(db)
  return Number(rows[0]!.n) > 0
}

/**
 * A pool of several connections on a fresh, migrated PostgreSQL database, closed and dropped when
 * the test ends: two transactions of one test race on it as two web processes would.
 */
export async function racingPostgres(t: TestContext, poolSize = 4): Promise<Db> {
  const database = await freshPostgresDatabase()
  const { db } = connectPostgres(database.url, { poolSize })
  t.after(async () => {
    await db.destroy()
    await database.drop()
  })
  return db
}

/**
 * A request to `url` held in the app's first preHandler (pass `instrument` to buildTestApp) until
 * the app is closing: its checks are still running when the close begins, as a page's reconnect
 * arriving just as the process is told to stop.
 */
export function heldAcrossClose(url: string) {
  const arrived = latch()
  const release = latch()
  return {
    instrument: (app: FastifyInstance) =>
      app.addHook('preHandler', async (request) => {
        if (request.url !== url) return
        arrived.open()
        await release.reached
      }),
    /**
     * Once the request arrived: closes `app`, lets the request go once the server stopped listening,
     * and says whether its answer (`answered`) and the close both finished within `ms`. If not, the
     * client is told to let go (`client`), so a close that waits fails the test, not the suite.
     */
    async closeThenRelease(
      app: FastifyInstance,
      answered: Promise<unknown>,
      client: AbortController,
      ms = 10_000,
    ): Promise<boolean> {
      await arrived.reached
      const closed = app.close()
      await eventually(() => !app.server.listening, 'the server to stop listening')
      release.open()
      const done = Promise.all([answered, closed]).then(() => true)
      const limit = new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref())
      const finished = await Promise.race([done, limit])
      if (!finished) client.abort()
      return finished
    },
  }
}
