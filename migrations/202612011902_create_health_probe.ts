import type { Kysely } from 'kysely'

// Frozen in time: the health probe as of 2026-12-01.
/** One row /healthz rewrites to learn whether writes reach the disk again after a failure. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('health_probe')
    .addColumn('id', 'integer', (c) => c.primaryKey())
    .addColumn('checked_at', 'bigint', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('health_probe').execute()
}
