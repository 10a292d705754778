import { type Kysely, sql } from 'kysely'

// Frozen in time (2026-12-03): when the embedded scheduler's run of a claimed occurrence ended
// (done, or given up after its last attempt), epoch ms (UTC), bigint. Null while it runs, and for
// good when its process was killed mid-run (SIGKILL, OOM, a reboot): the process that next holds
// the scheduler lease then runs that occurrence again. Claims made before this column existed are
// taken as finished when they started: their processes are gone, and whether they finished is
// unknown, as it was before; they are not all run again.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('job_run').addColumn('finished_at', 'bigint').execute()
  await db
    .updateTable('job_run')
    .set({ finished_at: sql.ref('started_at') })
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('job_run').dropColumn('finished_at').execute()
}
