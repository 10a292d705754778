import type { Kysely } from 'kysely'

// Frozen in time: as of 2026-12-01.
/** The worker looks every second for broadcasts with recipients still pending: an index answers it. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('broadcast_recipient_status')
    .on('broadcast_recipient')
    .columns(['status', 'broadcast_id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('broadcast_recipient_status').execute()
}
