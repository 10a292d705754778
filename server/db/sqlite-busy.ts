import {
  type CompiledQuery,
  type DatabaseConnection,
  DeleteQueryNode,
  type Dialect,
  type Driver,
  InsertQueryNode,
  type TransactionSettings,
  UpdateQueryNode,
} from 'kysely'
import { isDatabaseBusy } from '../lib/http-errors.js'
import { DelegatingDriver, withDriver } from './delegating-driver.js'
import type { WriteHealth } from './write-health.js'

/**
 * better-sqlite3 waits out `busy_timeout` synchronously, on the event loop: while another process
 * (a purge, a backup, a CLI) holds SQLite's write lock, a waiting write froze every request of the
 * web process. So the connection's busy_timeout is tiny (SQLITE_BUSY_TIMEOUT_MS) and a write that
 * meets the lock waits here instead, asynchronously: it gives the single connection back, sleeps
 * (backing off), takes it again and retries, for at most BUSY_WAIT_MS. Meanwhile other requests,
 * reads above all (WAL lets them run beside another process's write), are served. After that the
 * SQLITE_BUSY error goes up and the error handler answers 503 with Retry-After.
 *
 * Only statements outside a transaction and `begin immediate` itself are retried: a statement that
 * failed with SQLITE_BUSY changed nothing, and inside a transaction that began immediate we
 * already hold the write lock.
 */
export const SQLITE_BUSY_TIMEOUT_MS = 20
/** How long a write waits for another process's lock before the request gets a 503. */
export const BUSY_WAIT_MS = 5_000

/** Storage failures after which writes cannot succeed until someone acts (disk full, read-only, I/O). */
const storageFailure = /^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB)/

/** Records a failed statement's error in `health` when writes cannot succeed until someone acts. */
export function noteStorageFailure(health: WriteHealth, error: unknown): void {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && storageFailure.test(code)) health.failure = error as Error
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const isWrite = (query: CompiledQuery) =>
  query.query === undefined
    ? /^\s*commit\b/i.test(query.sql)
    : InsertQueryNode.is(query.query) || UpdateQueryNode.is(query.query) || DeleteQueryNode.is(query.query)

/** Wraps a SQLite dialect so that waiting for another process's write lock never blocks the event loop. */
export function busyRetryingDialect(
  inner: Dialect,
  waitMs = BUSY_WAIT_MS,
  hooks: WriteHooks = {},
): Dialect & { writeHealth: WriteHealth } {
  const writeHealth: WriteHealth = { failure: undefined }
  return withDriver(
    inner,
    { writeHealth },
    (driver) => new BusyRetryingDriver(driver, waitMs, writeHealth, hooks),
  )
}

/** What else happens around the connection: after each write that reached the file, and at close. */
export interface WriteHooks {
  wrote?(): void
  closing?(): Promise<void>
  /**
   * Whether SQLite still has a transaction open. After some errors (disk full, I/O, out of memory)
   * it rolls the transaction back itself; a `rollback` then fails ("no transaction is active") and
   * would hide the error that caused it.
   */
  inTransaction?(): boolean
}

class BusyRetryingDriver extends DelegatingDriver {
  /** True between a successful `begin` and its commit or rollback (one connection, one holder). */
  private inTransaction = false

  constructor(
    inner: Driver,
    private readonly waitMs: number,
    private readonly health: WriteHealth,
    private readonly hooks: WriteHooks,
  ) {
    super(inner)
  }

  override async destroy(): Promise<void> {
    await this.hooks.closing?.()
    await this.inner.destroy()
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const connection = await this.inner.acquireConnection()
    const retrying: DatabaseConnection = {
      executeQuery: <R>(query: CompiledQuery) =>
        this.inTransaction
          ? this.observe(query, () => connection.executeQuery<R>(query))
          : this.retryWhileBusy(connection, () =>
              this.observe(query, () => connection.executeQuery<R>(query)),
            ),
      streamQuery: (query, chunkSize) => connection.streamQuery(query, chunkSize),
    }
    return retrying
  }

  override async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    // `begin immediate` (connect.ts rewrites Kysely's `begin`) goes through the connection's
    // executeQuery, which retries it while another process holds the lock.
    await this.inner.beginTransaction(connection, settings)
    this.inTransaction = true
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await this.observe({ sql: 'commit' } as CompiledQuery, () => this.inner.commitTransaction(connection))
    } finally {
      this.inTransaction = false
    }
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      if (this.hooks.inTransaction?.() === false) return
      await this.inner.rollbackTransaction(connection)
    } finally {
      this.inTransaction = false
    }
  }

  /** Records whether a write reached the disk, for /healthz. */
  private async observe<T>(query: CompiledQuery, run: () => Promise<T>): Promise<T> {
    try {
      const result = await run()
      if (isWrite(query)) {
        this.health.failure = undefined
        this.hooks.wrote?.()
      }
      return result
    } catch (error) {
      noteStorageFailure(this.health, error)
      throw error
    }
  }

  /**
   * Runs a statement; on SQLITE_BUSY gives the connection back (so other queries of this process
   * run meanwhile), waits without blocking, takes it again and retries, until `waitMs` have passed.
   */
  private async retryWhileBusy<T>(connection: DatabaseConnection, run: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitMs
    for (let pause = 10; ; pause = Math.min(pause * 2, 250)) {
      try {
        return await run()
      } catch (error) {
        if (!isDatabaseBusy(error) || Date.now() + pause > deadline) throw error
      }
      await this.inner.releaseConnection(connection)
      await sleep(pause)
      await this.inner.acquireConnection()
    }
  }
}
