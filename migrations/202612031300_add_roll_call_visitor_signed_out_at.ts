import type { Kysely } from 'kysely'

// Frozen in time: when a visitor on a roll call signed out, as the sign-out reached the server while
// the roll call ran (2026-12-03), as roll_call_person.signed_out_at is for staff. Before the roll
// call's start: they were not inside when the alarm rang (a kiosk's sign-out sent late); at or after
// it: they left during the alarm. Null when none has arrived. Epoch ms (UTC), bigint.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').addColumn('signed_out_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').dropColumn('signed_out_at').execute()
}
