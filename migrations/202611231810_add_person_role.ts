import { type Kysely, sql } from 'kysely'

// Frozen in time: roles as of 2026-11-23. staff < reception < admin.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('person')
    .addColumn('role', 'text', (c) =>
      c.notNull().defaultTo('staff').check(sql`role in ('staff', 'reception', 'admin')`),
    )
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('person').dropColumn('role').execute()
}
