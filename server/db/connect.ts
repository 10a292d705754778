import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { type DialectAdapter, Kysely, PostgresAdapter, PostgresDialect, SqliteDialect } from 'kysely'
import pg from 'pg'
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from './checkpointer.js'
import type { DB } from './database.js'
import { allowDirectRuns } from './direct-sqlite.js'
import { withNamedStatements } from './named-statements.js'
import { busyRetryingDialect, noteStorageFailure, SQLITE_BUSY_TIMEOUT_MS } from './sqlite-busy.js'
import { isPostgresStorageFailure, registerWriteHealth, writeHealthDialect } from './write-health.js'

/** A Kysely instance or a transaction: repository functions accept either. */
export type Db = Kysely<DB>

/** The two databases the register runs on: embedded SQLite, or a PostgreSQL server. */
export type Dialect = 'sqlite' | 'postgres'

/** Where the database is: a PostgreSQL URL when set, else the SQLite file. */
export interface DatabaseLocation {
  DATABASE_URL?: string | undefined
  DATABASE_PATH: string
}

/**
 * Opens the register's database: PostgreSQL when DATABASE_URL is set, else the SQLite file. The one
 * place that decides the dialect; everything else takes the `Db` it returns.
 */
export function openDatabase(location: DatabaseLocation, options: PostgresOptions = {}): Db {
  return location.DATABASE_URL
    ? connectPostgres(location.DATABASE_URL, options).db
    : connect(location.DATABASE_PATH).db
}

/** Which database `db` (or a transaction on it) talks to, for the few queries that differ. */
export function dialectOf(db: { getExecutor(): { readonly adapter: DialectAdapter } }): Dialect {
  return db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite'
}

/** Opens the SQLite file (creating its folder) with the pragmas a busy web process needs. */
export function connect(path: string): { db: Db; sqlite: SQLite.Database; checkpointer?: Checkpointer } {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new SQLite(path)
  // WAL lets readers run while a write is in progress; NORMAL is durable across app crashes in WAL mode.
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  // Tiny: longer waits for another process's lock happen asynchronously (sqlite-busy.ts).
  sqlite.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`)
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('temp_store = MEMORY')
  // Checkpoints run in a thread of their own (checkpointer.ts); this connection only falls back to
  // one when the WAL grows long.
  const checkpointer = path === ':memory:' ? undefined : new Checkpointer(path)
  if (checkpointer) sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
  const dialect = busyRetryingDialect(
    new SqliteDialect({ database: withStatementCache(sqlite) }),
    LOCK_TIMEOUT_MS,
    {
      inTransaction: () => sqlite.inTransaction,
      ...(checkpointer ? { wrote: () => checkpointer.wrote(), closing: () => checkpointer.stop() } : {}),
    },
  )
  const db = new Kysely<DB>({ dialect })
  registerWriteHealth(db, dialect)
  // Inside a transaction, prepared queries skip Kysely's executor (direct-sqlite.ts); the driver's
  // wrappers would have seen their writes and failures.
  allowDirectRuns(db, {
    sqlite,
    wrote: () => {
      dialect.writeHealth.failure = undefined
      checkpointer?.wrote()
    },
    failed: (error) => noteStorageFailure(dialect.writeHealth, error),
  })
  return { db, sqlite, checkpointer }
}

// int8 (instants, counts) and numeric (sums of int8) arrive as text by default; every such value
// the register stores is well inside Number.MAX_SAFE_INTEGER. Set on our pools only, not globally.
const INT8 = 20
const NUMERIC = 1700
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8 || oid === NUMERIC
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
}

/**
 * The pool settings for a postgres:// URL. `sslmode` in the URL (or PGSSLMODE) is honoured the way
 * Heroku Postgres needs: `require`/`prefer`/`no-verify` encrypt without checking the certificate
 * (Heroku's are self-signed), `verify-ca`/`verify-full` check it, `disable` turns TLS off.
 */
export function poolConfig(url: string, env: NodeJS.ProcessEnv = process.env): pg.PoolConfig {
  const parsed = new URL(url)
  const mode = parsed.searchParams.get('sslmode') ?? env.PGSSLMODE ?? 'disable'
  // pg would read sslmode itself, as verify-full for `require`: ours replaces it.
  parsed.searchParams.delete('sslmode')
  const ssl =
    mode === 'verify-ca' || mode === 'verify-full'
      ? { rejectUnauthorized: true }
      : mode === 'require' || mode === 'prefer' || mode === 'no-verify'
        ? { rejectUnauthorized: false }
        : false
  return {
    connectionString: parsed.toString(),
    ssl,
    types: typeParsers,
    // As SQLite's busy_timeout: a row locked longer than this is "busy, try again" (a 503), not a
    // request hanging on. A transaction left open by a crashed request must not hold locks forever.
    lock_timeout: LOCK_TIMEOUT_MS,
    idle_in_transaction_session_timeout: 60_000,
  }
}

/** How a PostgreSQL pool is opened. */
export interface PostgresOptions {
  /** Connections at most (default 10). */
  poolSize?: number
  /**
   * Run the hot paths' queries as named statements (default true). False behind a proxy that
   * hands each transaction another server connection and cannot keep prepared statements
   * (PgBouncer in transaction mode before 1.21, or with `max_prepared_statements = 0`).
   */
  preparedStatements?: boolean
}

/** Opens a pool on a PostgreSQL server. */
export function connectPostgres(url: string, options: PostgresOptions = {}): { db: Db; pool: pg.Pool } {
  const pool = new pg.Pool({ ...poolConfig(url), max: options.poolSize ?? 10 })
  // An idle connection the server dropped (a restart, a failover) must not crash the process.
  pool.on('error', () => {})
  const dialect = writeHealthDialect(
    new PostgresDialect({ pool: options.preparedStatements === false ? pool : withNamedStatements(pool) }),
    isPostgresStorageFailure,
  )
  const db = new Kysely<DB>({ dialect })
  registerWriteHealth(db, dialect)
  return { db, pool }
}

const STATEMENT_CACHE_SIZE = 500
/** How long a statement waits for a lock (SQLite: asynchronously, sqlite-busy.ts) before giving up. */
export const LOCK_TIMEOUT_MS = 5000

/**
 * Kysely prepares every query afresh; preparing costs more than running our small queries. Keep
 * prepared statements by SQL text (bounded, least recently used out). A statement still busy
 * streaming rows is never handed out twice: a fresh one is prepared instead.
 */
function withStatementCache(sqlite: SQLite.Database): Pick<SQLite.Database, 'close' | 'prepare'> {
  const cache = new Map<string, SQLite.Statement>()
  return {
    close: () => sqlite.close(),
    prepare: (source: string) => {
      // Kysely opens transactions with a deferred `begin`: a transaction that reads and then writes
      // gets SQLITE_BUSY at once (no busy wait) when another process (a purge) holds the write lock.
      // `begin immediate` takes the write lock up front, waiting for it under busy_timeout.
      if (source === 'begin') source = 'begin immediate'
      const cached = cache.get(source)
      if (cached && !cached.busy) {
        cache.delete(source)
        cache.set(source, cached)
        return cached
      }
      const statement = sqlite.prepare(source)
      if (!cached) {
        cache.set(source, statement)
        if (cache.size > STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!)
      }
      return statement
    },
  } as Pick<SQLite.Database, 'close' | 'prepare'>
}
