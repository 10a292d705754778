import type SQLite from 'better-sqlite3'
import type { DialectAdapter } from 'kysely'
import type { Db } from './connect.js'

/**
 * What runs a SQLite statement straight on the connection: its statements by SQL text, and what the
 * driver would have been told about a write (sqlite-busy.ts: the checkpointer, write health).
 */
export interface DirectSqlite {
  sqlite: SQLite.Database
  statements: Map<string, { statement: SQLite.Statement; writes: boolean }>
  wrote(): void
  failed(error: unknown): void
}

const writeSql = /^\s*(insert|update|delete)\b/i

const byAdapter = new WeakMap<DialectAdapter, DirectSqlite>()

/** Lets prepared queries on `db` (a SQLite database opened by connect.ts) run inside its transactions directly. */
export function allowDirectRuns(db: Db, direct: Omit<DirectSqlite, 'statements'>): void {
  byAdapter.set(db.getExecutor().adapter, { ...direct, statements: new Map() })
}

/**
 * The connection `db` holds, when a prepared query may run on it directly: `db` is a transaction
 * on SQLite (SQLite has one connection, and the transaction holds it until it ends, so nothing
 * else of this process can run between) with no Kysely plugin (a plugin must see every query).
 * Kysely's way there (a query id, the executor, the connection provider, the driver's wrappers, the
 * statement cache: five awaits) cost more per tap statement than SQLite's own work on most of them.
 *
 * Outside a transaction, a read (`reads`) may run directly too, while no transaction is open on the
 * connection: it then sees only what was committed, as through the executor. While another unit's
 * transaction is open (awaiting between two of its statements) it goes through the executor, which
 * waits for that transaction to end. Writes outside a transaction always do: the executor waits
 * out another process's write lock without blocking the event loop (sqlite-busy.ts).
 */
export function directSqliteOf(db: Db, reads = false): DirectSqlite | undefined {
  const executor = db.getExecutor()
  if (executor.plugins.length > 0) return undefined
  const direct = byAdapter.get(executor.adapter)
  if (db.isTransaction) return direct
  return reads && direct && !direct.sqlite.inTransaction ? direct : undefined
}

/** Runs one statement on the connection: its rows (none for a statement that returns none). */
export function runDirect<R>(direct: DirectSqlite, sql: string, parameters: readonly unknown[]): R[] {
  let prepared = direct.statements.get(sql)
  if (!prepared) {
    prepared = { statement: direct.sqlite.prepare(sql), writes: writeSql.test(sql) }
    direct.statements.set(sql, prepared)
  }
  const { statement, writes } = prepared
  try {
    let rows: R[] = []
    if (statement.reader) rows = statement.all(parameters) as R[]
    else statement.run(parameters)
    if (writes) direct.wrote()
    return rows
  } catch (error) {
    direct.failed(error)
    throw error
  }
}
