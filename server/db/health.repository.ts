import { sql } from 'kysely'
import type { Db } from './connect.js'

/** Resolves when the database answers a trivial query; rejects otherwise. */
export async function pingDatabase(db: Db): Promise<void> {
  await sql`select 1`.execute(db)
}

/** Writes the probe row; rejects when writes do not reach the database (disk full, read-only). */
export async function probeWrite(db: Db, at: number): Promise<void> {
  await db
    .insertInto('health_probe')
    .values({ id: 1, checked_at: at })
    .onConflict((oc) => oc.column('id').doUpdateSet({ checked_at: at }))
    .execute()
}
