import { type Compilable, type CompiledQuery, createQueryId, SelectQueryNode } from 'kysely'
import { type Db, type Dialect, dialectOf } from './connect.js'
import { directSqliteOf, runDirect } from './direct-sqlite.js'
import { nameStatement } from './named-statements.js'

/** Stands in for a value while the query is built; replaced by the real value on every run. */
class Slot {
  constructor(readonly name: string) {}
}

type Template = { compiled: CompiledQuery; slots: (Slot | unknown)[]; reads: boolean }

/**
 * A Kysely query built and compiled once, then run many times with new values. Kysely rebuilds and
 * recompiles a query on every call (a fifth of a sign-in's CPU); the hot paths build theirs once.
 * `build` receives `values`, whose properties stand in for the parameters: use them only where a
 * value goes (comparisons, inserted or updated values), never to decide the shape of the query.
 */
export function preparedQuery<P extends Record<string, unknown>, R>(
  build: (db: Db, values: P) => Compilable<R>,
): (db: Db, values: P) => Promise<R[]> {
  // Compiled SQL differs by dialect (`?` or `$1`); a process normally uses one.
  const templates = new Map<Dialect, Template>()
  return async (db, values) => {
    const dialect = dialectOf(db)
    let template = templates.get(dialect)
    if (!template) {
      template = compileOnce(db, build)
      templates.set(dialect, template)
      if (dialect === 'postgres') nameStatement(template.compiled.sql)
    }
    const { compiled, slots, reads } = template
    const parameters = slots.map((p) => (p instanceof Slot ? values[p.name] : p))
    const direct = dialect === 'sqlite' ? directSqliteOf(db, reads) : undefined
    if (direct) return runDirect<R>(direct, compiled.sql, parameters)
    // Each run is a query of its own to Kysely (plugins may keep state per query id).
    const result = await db.executeQuery<R>({ ...compiled, parameters, queryId: createQueryId() })
    return result.rows
  }
}

function compileOnce<P extends Record<string, unknown>, R>(
  db: Db,
  build: (db: Db, values: P) => Compilable<R>,
): Template {
  const stand = new Proxy({} as P, { get: (_target, name) => new Slot(String(name)) })
  const compiled = build(db, stand).compile()
  return { compiled, slots: [...compiled.parameters], reads: SelectQueryNode.is(compiled.query) }
}
