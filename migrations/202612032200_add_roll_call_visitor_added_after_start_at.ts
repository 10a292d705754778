import type { Kysely } from 'kysely'

// Frozen in time: when a visitor was put on a running roll call after its start read the list
// (2026-12-03): one off the list who answered the evacuation message ("I need help", "I'm safe"),
// signed out before it started, before or during it. Marshals see them under "Not on the list when
// it started", as staff are who have only a mark there (no roll_call_person row). Null for a
// visitor copied at the start or added as they signed in, and for every existing row: they were on
// the list. Epoch ms (UTC), bigint.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').addColumn('added_after_start_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').dropColumn('added_after_start_at').execute()
}
