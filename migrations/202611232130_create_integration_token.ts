import { type Kysely, sql } from 'kysely'

// Frozen in time: integration tokens as of 2026-11-23. A token acts with a role, not as a person.
// Instant columns are `bigint` (changed 2026-12-01, before any PostgreSQL deployment existed): SQLite
// gives `bigint` and `integer` the same INTEGER affinity, so SQLite databases migrated earlier are
// unchanged; PostgreSQL needs 64 bits for epoch ms.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('integration_token')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('staff', 'reception', 'admin')`))
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('created_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('integration_token').execute()
}
