import type { Kysely } from 'kysely'

// Frozen in time: when an admin erased the person (data-protection request). The row stays, with
// placeholder names, so their visits still count in statistics; null for everyone else.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('person').addColumn('erased_at', 'bigint').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('person').dropColumn('erased_at').execute()
}
