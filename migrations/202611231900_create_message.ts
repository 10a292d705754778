import { type Kysely, sql } from 'kysely'

// Frozen in time: the message log as of 2026-11-23. Instants are epoch ms (UTC).
// Instant columns are `bigint` (changed 2026-12-01, before any PostgreSQL deployment existed): SQLite
// gives `bigint` and `integer` the same INTEGER affinity, so SQLite databases migrated earlier are
// unchanged; PostgreSQL needs 64 bits for epoch ms.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('message')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('channel', 'text', (c) => c.notNull())
    .addColumn('contact_kind', 'text', (c) => c.notNull().check(sql`contact_kind in ('email', 'phone')`))
    .addColumn('contact_value', 'text', (c) => c.notNull())
    .addColumn('person_id', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('provider_id', 'text')
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .check(sql`status in ('pending', 'queued', 'sending', 'sent', 'delivered', 'undelivered', 'failed')`),
    )
    .addColumn('error', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('message_created_at').on('message').column('created_at').execute()
  await db.schema
    .createIndex('message_status_created_at')
    .on('message')
    .columns(['status', 'created_at'])
    .execute()
  await db.schema.createIndex('message_provider_id').on('message').column('provider_id').execute()
  await db.schema.createIndex('message_person_id').on('message').column('person_id').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('message').execute()
}
