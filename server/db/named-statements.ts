import type { PostgresPool, PostgresPoolClient } from 'kysely'
import type pg from 'pg'

/**
 * PostgreSQL parses and plans every statement sent without a name; a named one is parsed once per
 * connection and then only bound and run. The hot paths' queries (built once, see preparedQuery)
 * are named here: a fixed, small set, so each connection keeps a few dozen statements at most.
 * Every other query stays unnamed, so generated SQL (lists of ids, filters) never piles up.
 */
const names = new Map<string, string>()

/**
 * A statement's plan stops fitting when a migration changes what it returns (a new column under
 * `select *`): PostgreSQL then refuses it once ("cached plan must not change result type") on
 * every connection that had prepared it. A new generation of names re-prepares them all.
 */
let generation = 0

/** Runs `sql` as a named statement on PostgreSQL from now on. */
export function nameStatement(sql: string): void {
  if (!names.has(sql)) names.set(sql, `br_${names.size + 1}`)
}

/** The statement PostgreSQL is asked to run: named if `sql` was named, else as it is. */
function statementFor(sql: string, values: unknown[]): pg.QueryConfig {
  const name = names.get(sql)
  return name ? { name: `${name}_${generation}`, text: sql, values } : { text: sql, values }
}

/** PostgreSQL's SQLSTATE for a prepared plan whose result no longer fits (feature_not_supported). */
const PLAN_CHANGED = '0A000'
/** PostgreSQL's SQLSTATE for a named statement this server connection never saw (invalid_sql_statement_name). */
const NO_SUCH_STATEMENT = '26000'

/** `pool` for Kysely, running named statements by name. */
export function withNamedStatements(pool: pg.Pool): PostgresPool {
  return {
    connect: async () => {
      const client = await pool.connect()
      // Kysely hands over a fresh copy of the parameters on every call: no need for another.
      const query = (sql: string, values: unknown[]) =>
        client.query(statementFor(sql, values)).catch((error: unknown) => {
          const code = (error as { code?: string }).code
          if (code === PLAN_CHANGED && names.has(sql)) generation++
          // The server connection is not the one the statement was prepared on: a proxy in between.
          if (code === NO_SUCH_STATEMENT && error instanceof Error)
            error.message += ` (behind a transaction-pooling proxy such as PgBouncer? Set DATABASE_PREPARED_STATEMENTS=false)`
          throw error
        })
      return {
        query: ((sqlOrCursor: unknown, values?: unknown[]) =>
          typeof sqlOrCursor === 'string'
            ? query(sqlOrCursor, values ?? [])
            : client.query(sqlOrCursor as pg.Submittable)) as unknown as PostgresPoolClient['query'],
        release: () => client.release(),
      }
    },
    end: () => pool.end(),
  }
}
