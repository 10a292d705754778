import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect } from 'kysely'
import type { DB } from './database.js'

/** A Kysely instance or a transaction: repository functions accept either. */
export type Db = Kysely<DB>

/** Opens the SQLite file (creating its folder) with the pragmas a busy web process needs. */
export function connect(path: string): { db: Db; sqlite: SQLite.Database } {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const sqlite = new SQLite(path)
  // WAL lets readers run while a write is in progress; NORMAL is durable across app crashes in WAL mode.
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma('temp_store = MEMORY')
  const db = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) })
  return { db, sqlite }
}

const STATEMENT_CACHE_SIZE = 500

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
