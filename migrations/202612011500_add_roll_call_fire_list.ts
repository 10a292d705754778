import type { Kysely } from 'kysely'

// Frozen in time: the fire list on roll calls (2026-12-01). Instants are epoch ms (UTC), bigint.

export async function up(db: Kysely<any>): Promise<void> {
  // Why someone on the snapshot was unconfirmed, and their last sign of life, as at the start.
  for (const [name, type] of [
    ['reason', 'text'],
    ['reason_at', 'bigint'],
    ['last_activity_at', 'bigint'],
    ['still_here_at', 'bigint'],
  ] as const) {
    await db.schema.alterTable('roll_call_person').addColumn(name, type).execute()
  }
  // Marks made on a marshal's phone without signal, by the phone's own key: replayed once only.
  await db.schema
    .createTable('roll_call_mark_receipt')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('roll_call_id', 'integer', (c) => c.notNull().references('roll_call.id').onDelete('cascade'))
    .addColumn('received_at', 'bigint', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('roll_call_mark_receipt').execute()
  for (const name of ['still_here_at', 'last_activity_at', 'reason_at', 'reason']) {
    await db.schema.alterTable('roll_call_person').dropColumn(name).execute()
  }
}
