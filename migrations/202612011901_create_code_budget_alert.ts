import type { Kysely } from 'kysely'

// Frozen in time: the text budget's alert log as of 2026-12-01.
/**
 * One row per hour in which the site-wide budget of texted codes ran out. Its primary key lets
 * exactly one web process (of many) claim the hour and alert the admins.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('code_budget_alert')
    .addColumn('hour_start', 'bigint', (c) => c.primaryKey())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('codes_sent', 'integer', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('code_budget_alert').execute()
}
