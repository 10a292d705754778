import { type Compilable, CompiledQuery, sql } from 'kysely'
import { type Db, dialectOf } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'

/**
 * The query plan of `query` as text. On PostgreSQL with sequential scans discouraged: test tables
 * are tiny, where a scan is the planner's right choice; this asks whether an index can serve.
 */
export async function planOf(db: Db, query: Compilable<unknown>): Promise<string> {
  const { sql: text, parameters } = query.compile()
  const postgres = dialectOf(db) === 'postgres'
  return unitOfWork(db, async (trx) => {
    if (postgres) await sql`set local enable_seqscan = off`.execute(trx)
    const explain = CompiledQuery.raw(`${postgres ? 'explain' : 'explain query plan'} ${text}`, [
      ...parameters,
    ])
    const { rows } = await trx.executeQuery<Record<string, string>>(explain)
    return rows.map((r) => (postgres ? r['QUERY PLAN'] : r.detail)).join('\n')
  })
}
