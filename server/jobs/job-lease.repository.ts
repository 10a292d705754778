import type { Db } from '../db/connect.js'
import type { JobLease, JobRun } from '../db/database.js'

/**
 * Takes the lease `name` for `holder` (when it is free or expired) or renews it (when the holder
 * already has it), until `now + ttlMs`. True when the holder has the lease afterwards. One
 * conditional write decides, so two processes can never both hold it.
 */
export async function acquireLease(
  db: Db,
  lease: { name: string; holder: string; now: number; ttlMs: number },
): Promise<boolean> {
  const expiresAt = lease.now + lease.ttlMs
  const inserted = await db
    .insertInto('job_lease')
    .values({ name: lease.name, holder: lease.holder, expires_at: expiresAt })
    .onConflict((oc) => oc.column('name').doNothing())
    .executeTakeFirst()
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1) return true
  const updated = await db
    .updateTable('job_lease')
    .set({ holder: lease.holder, expires_at: expiresAt })
    .where('name', '=', lease.name)
    .where((eb) => eb.or([eb('holder', '=', lease.holder), eb('expires_at', '<', lease.now)]))
    .executeTakeFirst()
  return Number(updated.numUpdatedRows) === 1
}

/** The lease as it stands (who holds it, until when). */
export async function findLease(db: Db, name: string): Promise<JobLease | undefined> {
  return db.selectFrom('job_lease').selectAll().where('name', '=', name).executeTakeFirst()
}

/** Gives the lease up at once (a clean shutdown), so another process need not wait for it to expire. */
export async function releaseLease(db: Db, lease: { name: string; holder: string }): Promise<void> {
  await db.deleteFrom('job_lease').where('name', '=', lease.name).where('holder', '=', lease.holder).execute()
}

/** Claims one occurrence of a schedule for a holder; false when some process already claimed it. */
export async function claimJobRun(
  db: Db,
  run: { scheduleId: string; dueAt: number; holder: string; now: number },
): Promise<boolean> {
  const inserted = await db
    .insertInto('job_run')
    .values({ schedule_id: run.scheduleId, due_at: run.dueAt, holder: run.holder, started_at: run.now })
    .onConflict((oc) => oc.columns(['schedule_id', 'due_at']).doNothing())
    .executeTakeFirst()
  return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1
}

/**
 * Takes over an occurrence whose run never finished from a process that no longer holds the lease
 * `lease` (killed mid-run, or it lost the lease): only while `holder` holds that lease, and only
 * from another holder. One conditional write decides, so two processes never both take it over,
 * and a run whose process still holds the lease is never taken from it. True when taken over.
 */
export async function reclaimJobRun(
  db: Db,
  run: { scheduleId: string; dueAt: number; holder: string; lease: string; now: number },
): Promise<boolean> {
  const updated = await db
    .updateTable('job_run')
    .set({ holder: run.holder, started_at: run.now })
    .where('schedule_id', '=', run.scheduleId)
    .where('due_at', '=', run.dueAt)
    .where('finished_at', 'is', null)
    .where('holder', '<>', run.holder)
    .where(({ exists, selectFrom }) =>
      exists(
        selectFrom('job_lease')
          .select('name')
          .where('name', '=', run.lease)
          .where('holder', '=', run.holder)
          .where('expires_at', '>=', run.now),
      ),
    )
    .executeTakeFirst()
  return Number(updated.numUpdatedRows) === 1
}

/** Records that the holder's run of an occurrence ended (done, or given up), so nobody runs it again. */
export async function finishJobRun(
  db: Db,
  run: { scheduleId: string; dueAt: number; holder: string; now: number },
): Promise<void> {
  await db
    .updateTable('job_run')
    .set({ finished_at: run.now })
    .where('schedule_id', '=', run.scheduleId)
    .where('due_at', '=', run.dueAt)
    .where('holder', '=', run.holder)
    .execute()
}

/** Who claimed an occurrence and whether its run finished; undefined when nobody claimed it. */
export async function findJobRun(
  db: Db,
  scheduleId: string,
  dueAt: number,
): Promise<Pick<JobRun, 'holder' | 'finished_at'> | undefined> {
  return db
    .selectFrom('job_run')
    .select(['holder', 'finished_at'])
    .where('schedule_id', '=', scheduleId)
    .where('due_at', '=', dueAt)
    .executeTakeFirst()
}

/** Gives a claimed occurrence back (its run was cut short or failed), so a later catch-up may run it. */
export async function releaseJobRun(
  db: Db,
  run: { scheduleId: string; dueAt: number; holder: string },
): Promise<void> {
  await db
    .deleteFrom('job_run')
    .where('schedule_id', '=', run.scheduleId)
    .where('due_at', '=', run.dueAt)
    .where('holder', '=', run.holder)
    .execute()
}

/** Whether an occurrence of a schedule before `dueAt` was claimed here: the schedule ran on this database. */
export async function ranBefore(db: Db, scheduleId: string, dueAt: number): Promise<boolean> {
  const row = await db
    .selectFrom('job_run')
    .select('due_at')
    .where('schedule_id', '=', scheduleId)
    .where('due_at', '<', dueAt)
    .limit(1)
    .executeTakeFirst()
  return row !== undefined
}
