import { type Kysely, sql } from 'kysely'

// Frozen in time (2026-12-03): on a day with a refused kiosk sign-in, reception's board reads the
// removals of those notices at the kiosks (visitor.saved-sign-in-dismissed) from the audit trail
// on every refresh, since the first refusal shown. By time alone that walked every audit row since
// (every tap writes one). Partial, as 202612031600: only those rows. The query names the action as
// a literal, as here, so both databases can use it.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index audit_event_saved_sign_in_dismissed on audit_event (at) where action = 'visitor.saved-sign-in-dismissed'`.execute(
    db,
  )
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_event_saved_sign_in_dismissed').execute()
}
