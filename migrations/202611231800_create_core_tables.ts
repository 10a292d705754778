import { type Kysely, sql } from 'kysely'

// Frozen in time: this file describes the schema as it was on 2026-11-23. Instants are epoch ms (UTC).
// Instant columns are `bigint` (changed 2026-12-01, before any PostgreSQL deployment existed): SQLite
// gives `bigint` and `integer` the same INTEGER affinity, so SQLite databases migrated earlier are
// unchanged; PostgreSQL needs 64 bits for epoch ms.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('person')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deactivated_at', 'bigint')
    .execute()

  await db.schema
    .createTable('contact')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('email', 'phone')`))
    .addColumn('value', 'text', (c) => c.notNull().unique())
    .addColumn('verified_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('contact_person_id').on('contact').column('person_id').execute()

  await db.schema
    .createTable('login_code')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('contact_value', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull().check(sql`purpose in ('login', 'add-contact')`))
    .addColumn('person_id', 'integer', (c) => c.references('person.id').onDelete('cascade'))
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('consumed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('login_code_contact_created')
    .on('login_code')
    .columns(['contact_value', 'created_at'])
    .execute()
  await db.schema
    .createIndex('login_code_ip_created')
    .on('login_code')
    .columns(['ip', 'created_at'])
    .execute()

  await db.schema
    .createTable('device')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('browser', 'api', 'link')`))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute()
  await db.schema.createIndex('device_person_id').on('device').column('person_id').execute()

  await db.schema
    .createTable('visit')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('signed_in_at', 'bigint', (c) => c.notNull())
    .addColumn('signed_out_at', 'bigint')
    .addColumn('closed_by', 'text', (c) => c.check(sql`closed_by in ('person', 'auto', 'admin')`))
    .addCheckConstraint('visit_closed_consistently', sql`(signed_out_at is null) = (closed_by is null)`)
    .addCheckConstraint('visit_out_after_in', sql`signed_out_at is null or signed_out_at >= signed_in_at`)
    .execute()
  // At most one open visit per person: the database itself refuses a duplicate sign-in.
  await db.schema
    .createIndex('visit_one_open_per_person')
    .on('visit')
    .column('person_id')
    .unique()
    .where(sql.ref('signed_out_at'), 'is', null)
    .execute()
  await db.schema
    .createIndex('visit_person_signed_in')
    .on('visit')
    .columns(['person_id', 'signed_in_at'])
    .execute()
  await db.schema.createIndex('visit_signed_in_at').on('visit').column('signed_in_at').execute()

  await db.schema
    .createTable('audit_event')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('person_id', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('ip', 'text', (c) => c.notNull())
    .addColumn('user_agent', 'text', (c) => c.notNull())
    .addColumn('detail', 'text', (c) => c.notNull().defaultTo('{}'))
    .execute()
  await db.schema.createIndex('audit_event_at').on('audit_event').column('at').execute()
  await db.schema
    .createIndex('audit_event_person_at')
    .on('audit_event')
    .columns(['person_id', 'at'])
    .execute()

  await db.schema
    .createTable('idempotency_key')
    .addColumn('device_id', 'integer', (c) => c.notNull().references('device.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('response', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('idempotency_key_pk', ['device_id', 'key'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'idempotency_key',
    'audit_event',
    'visit',
    'device',
    'login_code',
    'contact',
    'person',
  ]) {
    await db.schema.dropTable(table).execute()
  }
}
