import type { Kysely } from 'kysely'

// Frozen in time: the latest time a sign-in found the visit already open (2026-12-03): the person on
// another device, reception's Sign in on the board, a tap saved offline on another phone. Such a
// sign-in changes nothing else, so without it a sign-out saved offline before it (at 17:00, sent
// at 18:00) would close the visit of someone back inside since 17:30 and take them off the fire
// list; a replayed tap made before this time is overtaken. Null until such a sign-in. Epoch ms
// (UTC), bigint. A plain added column: the occupancy triggers on `visit` fire only on changes of
// `signed_out_at`, and no existing row is rewritten.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('visit').addColumn('signed_in_again_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('visit').dropColumn('signed_in_again_at').execute()
}
