import type { Kysely } from 'kysely'

// Frozen in time: why a visitor on a roll call was unconfirmed, as at the start (2026-12-03), as
// staff have: 'earlier-day' or 'auto-closed' (with when), null when they were in. Instants are
// epoch ms (UTC), bigint.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').addColumn('reason', 'text').execute()
  await db.schema.alterTable('roll_call_visitor').addColumn('reason_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').dropColumn('reason_at').execute()
  await db.schema.alterTable('roll_call_visitor').dropColumn('reason').execute()
}
