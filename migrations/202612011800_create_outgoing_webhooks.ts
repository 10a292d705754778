import { type Kysely, sql } from 'kysely'

// Frozen in time: outgoing webhooks (Standard Webhooks) as of 2026-12-01. Instants are epoch ms
// (UTC), declared bigint so PostgreSQL holds them; booleans are integer 0/1.

export async function up(db: Kysely<any>): Promise<void> {
  // An admin's receiving URL, the events it wants (space-separated) and its signing secret,
  // encrypted with a key derived from SESSION_SECRET.
  await db.schema
    .createTable('webhook_endpoint')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('url', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('events', 'text', (c) => c.notNull())
    .addColumn('secret_encrypted', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('disabled_reason', 'text')
    .addColumn('created_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('removed_at', 'bigint')
    .execute()

  // Something that happened, written in the transaction of the change (from its audit row). IDs
  // only: names are read when the payload is built, so an erased person's name is never sent.
  await db.schema
    .createTable('webhook_event')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('person_id', 'integer')
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('occurred_at', 'bigint', (c) => c.notNull())
    .addColumn('fanned_out_at', 'bigint')
    .execute()
  await db.schema
    .createIndex('webhook_event_pending')
    .on('webhook_event')
    .column('id')
    .where(sql.ref('fanned_out_at'), 'is', null)
    .execute()

  // One event to one endpoint: attempts, the next try, the last answer. `order_key` keeps each
  // person's events in order per endpoint.
  await db.schema
    .createTable('webhook_delivery')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('endpoint_id', 'integer', (c) =>
      c.notNull().references('webhook_endpoint.id').onDelete('cascade'),
    )
    .addColumn('event_id', 'integer', (c) => c.notNull().references('webhook_event.id').onDelete('cascade'))
    .addColumn('order_key', 'text', (c) => c.notNull())
    .addColumn('state', 'text', (c) =>
      c.notNull().defaultTo('pending').check(sql`state in ('pending', 'delivered', 'failed')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
    .addColumn('lease_until', 'bigint')
    .addColumn('last_status', 'integer')
    .addColumn('last_error', 'text')
    .addColumn('last_attempt_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('webhook_delivery_endpoint_event', ['endpoint_id', 'event_id'])
    .execute()
  await db.schema
    .createIndex('webhook_delivery_due')
    .on('webhook_delivery')
    .columns(['state', 'next_attempt_at'])
    .execute()
  await db.schema
    .createIndex('webhook_delivery_order')
    .on('webhook_delivery')
    .columns(['endpoint_id', 'order_key', 'event_id'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['webhook_delivery', 'webhook_event', 'webhook_endpoint']) {
    await db.schema.dropTable(table).execute()
  }
}
