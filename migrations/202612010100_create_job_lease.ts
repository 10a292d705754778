import type { Kysely } from 'kysely'

// Frozen in time: the embedded scheduler's lease and its claimed occurrences, as of 2026-12-01.
/**
 * Without Redis, scheduled jobs run in the web process. `job_lease` makes sure only one process
 * runs them (the holder renews its row; a dead holder's row expires and another process takes
 * over); `job_run` records each occurrence a process claimed, so a handover can never run the
 * same occurrence twice.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('job_lease')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema
    .createTable('job_run')
    .addColumn('schedule_id', 'text', (c) => c.notNull())
    .addColumn('due_at', 'bigint', (c) => c.notNull())
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('job_run_pk', ['schedule_id', 'due_at'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('job_run').execute()
  await db.schema.dropTable('job_lease').execute()
}
