import {
  type CompiledQuery,
  type DatabaseConnection,
  DeleteQueryNode,
  type Dialect,
  type Driver,
  InsertQueryNode,
  type Kysely,
  type QueryResult,
  UpdateQueryNode,
} from 'kysely'
import { DelegatingDriver, withDriver } from './delegating-driver.js'

/**
 * Whether this process's last write reached the database; /healthz reports it. Kept per process,
 * as a health check is: each web process learns of a full disk or a read-only database from its
 * own first failed write, and is healthy again once its own probe write succeeds.
 */
export interface WriteHealth {
  /** The error of the last failed write, or undefined once a write has succeeded since. */
  failure: Error | undefined
}

const healthByDb = new WeakMap<object, WriteHealth>()

/** The write health of a database opened on a dialect that tracks it (always healthy otherwise). */
export function writeHealthOf(db: Kysely<unknown> | object): WriteHealth {
  return healthByDb.get(db) ?? { failure: undefined }
}

/** Remembers the write health of the Kysely instance built on a dialect that tracks it. */
export function registerWriteHealth(db: object, dialect: Dialect): void {
  const health = (dialect as { writeHealth?: WriteHealth }).writeHealth
  if (health) healthByDb.set(db, health)
}

const writeSql = /^\s*(insert|update|delete)\b/i

/** Whether a statement writes rows (a commit is judged by the caller: it may have written nothing). */
const isRowWrite = (query: CompiledQuery): boolean =>
  query.query !== undefined &&
  (InsertQueryNode.is(query.query) || UpdateQueryNode.is(query.query) || DeleteQueryNode.is(query.query)
    ? true
    : writeSql.test(query.sql))

/**
 * PostgreSQL errors after which writes cannot succeed until someone acts: disk full (53100), a
 * read-only database (25006: a standby after a failover, `default_transaction_read_only`), write
 * rights taken away (42501: Heroku Postgres revokes INSERT and UPDATE on a database over its
 * plan's limits), I/O errors and corruption (58030, XX001, XX002).
 */
const POSTGRES_STORAGE_FAILURES = new Set(['53100', '25006', '42501', '58030', 'XX001', 'XX002'])

/** True for a PostgreSQL error that means writes are failing for good, not just this once. */
export function isPostgresStorageFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && POSTGRES_STORAGE_FAILURES.has(code)
}

/**
 * Wraps a PostgreSQL dialect so that the process knows whether its writes reach the database: a
 * write failing with a storage error marks it unhealthy; a write that commits (a statement outside
 * a transaction, or a commit after writes) marks it healthy again. SQLite's driver does the same
 * in sqlite-busy.ts.
 */
export function writeHealthDialect(
  inner: Dialect,
  isStorageFailure: (error: unknown) => boolean,
): Dialect & { writeHealth: WriteHealth } {
  const writeHealth: WriteHealth = { failure: undefined }
  return withDriver(
    inner,
    { writeHealth },
    (driver) => new WriteObservingDriver(driver, writeHealth, isStorageFailure),
  )
}

/** A connection that reports its writes' outcome; one holder at a time, like the one it wraps. */
class ObservedConnection implements DatabaseConnection {
  private inTransaction = false
  private wrote = false

  constructor(
    readonly inner: DatabaseConnection,
    private readonly health: WriteHealth,
    private readonly isStorageFailure: (error: unknown) => boolean,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const verb = /^\s*(begin|start|commit|rollback)\b/i.exec(query.sql)?.[1]?.toLowerCase()
    const write = isRowWrite(query)
    try {
      const result = await this.inner.executeQuery<R>(query)
      if (verb === 'begin' || verb === 'start') {
        this.inTransaction = true
        this.wrote = false
      } else if (verb === 'commit' || verb === 'rollback') {
        if (verb === 'commit' && this.wrote) this.health.failure = undefined
        this.inTransaction = false
      } else if (write) {
        if (this.inTransaction) this.wrote = true
        else this.health.failure = undefined
      }
      return result
    } catch (error) {
      if (verb === 'commit' || verb === 'rollback') this.inTransaction = false
      if (this.isStorageFailure(error)) this.health.failure = error as Error
      throw error
    }
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize)
  }
}

/** The inner driver runs `begin`, `commit` and savepoints through the connection it is given: ours. */
class WriteObservingDriver extends DelegatingDriver {
  constructor(
    inner: Driver,
    private readonly health: WriteHealth,
    private readonly isStorageFailure: (error: unknown) => boolean,
  ) {
    super(inner)
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    return new ObservedConnection(await this.inner.acquireConnection(), this.health, this.isStorageFailure)
  }

  override releaseConnection(connection: DatabaseConnection): Promise<void> {
    // The inner driver releases through its own connection object (pg's client goes back to the pool).
    return this.inner.releaseConnection((connection as ObservedConnection).inner)
  }
}
