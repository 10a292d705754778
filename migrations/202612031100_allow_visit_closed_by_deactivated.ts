import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../server/db/connect.js'

// Frozen in time: `visit.closed_by` as of 2026-12-03.
/**
 * An open visit closed when an administrator deactivates the person is marked
 * `closed_by = 'deactivated'`: nobody saw them leave (they may be in the building), so the fire list
 * keeps them Unconfirmed for a while, as after the nightly auto-close or the directory's.
 *
 * PostgreSQL alters the column's CHECK; SQLite rebuilds the table exactly as
 * 202612021000_allow_visit_closed_by_directory.ts does (its comment says how and why).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await setClosedBy(db, ['person', 'auto', 'admin', 'directory', 'deactivated'])
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.updateTable('visit').set({ closed_by: 'admin' }).where('closed_by', '=', 'deactivated').execute()
  await setClosedBy(db, ['person', 'auto', 'admin', 'directory'])
}

async function setClosedBy(db: Kysely<any>, allowed: string[]): Promise<void> {
  const check = sql`closed_by in (${sql.join(allowed.map((v) => sql.lit(v)))})`
  if (dialectOf(db) === 'postgres') {
    // The name PostgreSQL gave the column's CHECK in the core tables migration, kept.
    await sql`alter table visit drop constraint visit_closed_by_check,
      add constraint visit_closed_by_check check (${check})`.execute(db)
    return
  }
  await rebuildSqliteVisit(db, check)
}

async function rebuildSqliteVisit(db: Kysely<any>, closedByCheck: ReturnType<typeof sql>): Promise<void> {
  const foreignKeysOn = await pragma(db, 'foreign_keys')
  if (foreignKeysOn) {
    await sql`pragma foreign_keys = off`.execute(db)
    if (await pragma(db, 'foreign_keys')) {
      // Inside a transaction the pragma is a no-op, and dropping `visit` would cascade.
      throw new Error(
        'Cannot turn SQLite foreign keys off to rebuild `visit`: run this migration outside a transaction.',
      )
    }
  }
  await sql`begin immediate`.execute(db)
  try {
    const kept = await sql<{ sql: string }>`
      select sql from sqlite_master where tbl_name = 'visit' and type in ('index', 'trigger') and sql is not null
      order by type, name`.execute(db)
    const sequence = await sql<{ seq: number }>`select seq from sqlite_sequence where name = 'visit'`.execute(
      db,
    )
    await db.schema
      .createTable('visit_new')
      .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
      .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
      .addColumn('signed_in_at', 'bigint', (c) => c.notNull())
      .addColumn('signed_out_at', 'bigint')
      .addColumn('closed_by', 'text', (c) => c.check(closedByCheck))
      .addCheckConstraint('visit_closed_consistently', sql`(signed_out_at is null) = (closed_by is null)`)
      .addCheckConstraint('visit_out_after_in', sql`signed_out_at is null or signed_out_at >= signed_in_at`)
      .execute()
    await sql`insert into visit_new (id, person_id, signed_in_at, signed_out_at, closed_by)
      select id, person_id, signed_in_at, signed_out_at, closed_by from visit`.execute(db)
    await sql`drop table visit`.execute(db)
    await sql`alter table visit_new rename to visit`.execute(db)
    for (const { sql: definition } of kept.rows) await sql.raw(definition).execute(db)
    // AUTOINCREMENT never reuses an id, even one the purge deleted: keep the old high-water mark.
    const seq = sequence.rows[0]?.seq
    if (seq !== undefined) {
      await sql`update sqlite_sequence set seq = max(seq, ${seq}) where name = 'visit'`.execute(db)
    }
    const broken = await sql`select * from pragma_foreign_key_check`.execute(db)
    if (broken.rows.length > 0) {
      throw new Error(
        `Rebuilding visit broke ${broken.rows.length} foreign key(s): ${JSON.stringify(broken.rows)}`,
      )
    }
    await sql`commit`.execute(db)
  } catch (error) {
    await sql`rollback`.execute(db)
    throw error
  } finally {
    if (foreignKeysOn) await sql`pragma foreign_keys = on`.execute(db)
  }
}

async function pragma(db: Kysely<any>, name: 'foreign_keys'): Promise<boolean> {
  const result = await sql<Record<string, number>>`select * from ${sql.raw(`pragma_${name}`)}`.execute(db)
  return result.rows[0]?.[name] === 1
}
