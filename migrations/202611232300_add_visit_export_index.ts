import type { Kysely } from 'kysely'

// Frozen in time: visits read in (signed_in_at, id) order as of 2026-11-23.

/**
 * Reports and exports read every visit of a range in (signed_in_at, id) order. An index holding
 * every column they need answers them without a table lookup per visit; it starts with
 * signed_in_at, so it also serves everything the index on signed_in_at alone did.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('visit_signed_in_at_covering')
    .on('visit')
    .columns(['signed_in_at', 'id', 'person_id', 'signed_out_at', 'closed_by'])
    .execute()
  await db.schema.dropIndex('visit_signed_in_at').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('visit_signed_in_at').on('visit').column('signed_in_at').execute()
  await db.schema.dropIndex('visit_signed_in_at_covering').execute()
}
