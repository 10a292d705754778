import type { Kysely } from 'kysely'

// Frozen in time: Web Push subscriptions as of 2026-11-23. Instants are epoch ms (UTC).
// Instant columns are `bigint` (changed 2026-12-01, before any PostgreSQL deployment existed): SQLite
// gives `bigint` and `integer` the same INTEGER affinity, so SQLite databases migrated earlier are
// unchanged; PostgreSQL needs 64 bits for epoch ms.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('push_subscription')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('device_id', 'integer', (c) => c.references('device.id').onDelete('set null'))
    .addColumn('endpoint', 'text', (c) => c.notNull().unique())
    .addColumn('p256dh', 'text', (c) => c.notNull())
    .addColumn('auth', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_success_at', 'bigint')
    .execute()
  await db.schema
    .createIndex('push_subscription_person_id')
    .on('push_subscription')
    .column('person_id')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('push_subscription').execute()
}
