import type { Kysely } from 'kysely'

// Frozen in time: when the register closed a visit or a visitor's visit (2026-12-03), by the server's
// clock at the close, whoever closed it; `signed_out_at` stays when the visit is taken to have
// ended. The two differ when a close is back-dated: the auto-close ends a visit begun on an earlier
// day at the end of that day, and a late run acts as of its own time. The fire list keeps a visit
// closed unseen Unconfirmed for FIRE_LIST_AUTO_CLOSED_HOURS from `closed_at`, and the purge keeps
// it that long. Null for rows closed before this migration (those count from `signed_out_at`, as
// before) and for open ones. Epoch ms (UTC), bigint. A plain added column: the occupancy triggers
// on `visit` fire only on changes of `signed_out_at`, and no existing row is rewritten.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('visit').addColumn('closed_at', 'bigint').execute()
  await db.schema.alterTable('visitor').addColumn('closed_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('visitor').dropColumn('closed_at').execute()
  await db.schema.alterTable('visit').dropColumn('closed_at').execute()
}
