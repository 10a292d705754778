import type { Kysely } from 'kysely'

// Frozen in time: idempotency keys as of 2026-12-01.
/**
 * An Idempotency-Key answers only the request it was first used for: the hash of its method, path
 * and body is kept beside the answer. Rows from before this migration have none and match any.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_key').addColumn('request_hash', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('idempotency_key').dropColumn('request_hash').execute()
}
