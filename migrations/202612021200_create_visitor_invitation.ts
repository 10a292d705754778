import type { Kysely } from 'kysely'

// Frozen in time: a host's invitation for a pre-registered visitor (the visitor row holds the
// person; this row holds the credentials). The link token (256 bits) and the short code typed at
// the kiosk are stored only as hashes. Instants are epoch ms (UTC), declared bigint.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('visitor_invitation')
    .addColumn('visitor_id', 'integer', (c) => c.primaryKey().references('visitor.id').onDelete('cascade'))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('code_hash', 'text', (c) => c.notNull().unique())
    // The local time the host expects them (HH:mm), if they said.
    .addColumn('expected_time', 'text')
    .addColumn('sent_at', 'bigint')
    .addColumn('cancelled_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('visitor_expected_day').on('visitor').column('expected_day').execute()
  await db.schema.createIndex('visitor_invited_by').on('visitor').column('invited_by').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('visitor_invited_by').execute()
  await db.schema.dropIndex('visitor_expected_day').execute()
  await db.schema.dropTable('visitor_invitation').execute()
}
