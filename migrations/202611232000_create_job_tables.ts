import { type Kysely, sql } from 'kysely'

// Frozen in time: background-job tables as of 2026-11-23. Instants are epoch ms (UTC).
// Instant columns are `bigint` (changed 2026-12-01, before any PostgreSQL deployment existed): SQLite
// gives `bigint` and `integer` the same INTEGER affinity, so SQLite databases migrated earlier are
// unchanged; PostgreSQL needs 64 bits for epoch ms.

export async function up(db: Kysely<any>): Promise<void> {
  // Events to announce outside (Slack), written in the same transaction as the change they describe.
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('topic', 'text', (c) => c.notNull().check(sql`topic in ('presence', 'digest')`))
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('relayed_at', 'bigint')
    .execute()
  await db.schema
    .createIndex('outbox_unrelayed')
    .on('outbox')
    .column('id')
    .where(sql.ref('relayed_at'), 'is', null)
    .execute()

  // One row per (event, webhook) actually posted: a retried job never posts twice.
  await db.schema
    .createTable('outbox_delivery')
    .addColumn('outbox_id', 'integer', (c) => c.notNull().references('outbox.id').onDelete('cascade'))
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('delivered_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('outbox_delivery_pk', ['outbox_id', 'target'])
    .execute()

  // At most one end-of-day reminder per person per local day; its links work once.
  await db.schema
    .createTable('reminder')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('day', 'text', (c) => c.notNull())
    .addColumn('visit_id', 'integer', (c) => c.notNull().references('visit.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c.notNull().defaultTo('sending').check(sql`status in ('sending', 'sent', 'unreachable')`),
    )
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint')
    .addColumn('channel', 'text')
    .addColumn('answered_at', 'bigint')
    .addColumn('answer', 'text', (c) => c.check(sql`answer in ('left', 'still-here')`))
    .addUniqueConstraint('reminder_person_day', ['person_id', 'day'])
    .execute()
  await db.schema.createIndex('reminder_created_at').on('reminder').column('created_at').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['reminder', 'outbox_delivery', 'outbox']) {
    await db.schema.dropTable(table).execute()
  }
}
