import type { Kysely } from 'kysely'

// Frozen in time: the host as a visitor typed it when the kiosk could not look names up (offline),
// kept when it matched nobody (or several people) so reception still knows whom they came to see.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('visitor').addColumn('host_text', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('visitor').dropColumn('host_text').execute()
}
