import { type Kysely, sql } from 'kysely'

// Frozen in time (2026-12-03): reception's board lists the kiosk sign-ins refused in the last day
// on every refresh, from the audit trail. By time alone that walked every audit row of the day
// (every tap writes one). Partial: only those rows, so no other audit row adds to it. The query
// names the action as a literal, as here, so both databases can use it.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index audit_event_saved_sign_in_refused on audit_event (at) where action = 'visitor.saved-sign-in-refused'`.execute(
    db,
  )
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_event_saved_sign_in_refused').execute()
}
