import { type Kysely, sql } from 'kysely'

// Frozen in time (2026-12-03): every read of the fire list looks for visits and visitors the
// register closed unseen (auto-close, directory, deactivation) in the last FIRE_LIST_AUTO_CLOSED_HOURS,
// by coalesce(closed_at, signed_out_at) (202612031400). Without an index that was a scan of every
// visit kept: 85 ms a read with a million. Partial: only the closes nobody saw, a small share of
// the rows, so a tap's sign-out (closed by the person) adds nothing to it. The queries spell the
// same expression and the same closed_by values as literals, so both databases can use them.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index visit_closed_unseen on visit ((coalesce(closed_at, signed_out_at))) where closed_by in ('auto', 'directory', 'deactivated')`.execute(
    db,
  )
  await sql`create index visitor_closed_unseen on visitor ((coalesce(closed_at, signed_out_at))) where closed_by = 'auto'`.execute(
    db,
  )
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('visitor_closed_unseen').execute()
  await db.schema.dropIndex('visit_closed_unseen').execute()
}
