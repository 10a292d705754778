import type { Kysely } from 'kysely'

// Frozen in time: when a person on a roll call signed out, as the sign-out reached the server
// while the roll call ran (2026-12-03). Before the roll call's start: they were not inside when the
// alarm rang (a tap that reached the server late); at or after it: they left during the alarm.
// Null when no sign-out of the visit that put them on the list has arrived. Epoch ms (UTC), bigint.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_person').addColumn('signed_out_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_person').dropColumn('signed_out_at').execute()
}
