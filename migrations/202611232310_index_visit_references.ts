import type { Kysely } from 'kysely'

// Frozen in time: an index for the retention purge as of 2026-11-23.
/**
 * Deleting a visit makes SQLite look for reminders pointing at it (the foreign key with ON DELETE
 * CASCADE). Without an index on the referencing column that is a scan of the whole reminder table
 * for every visit the retention purge removes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('reminder_visit_id').on('reminder').column('visit_id').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('reminder_visit_id').execute()
}
