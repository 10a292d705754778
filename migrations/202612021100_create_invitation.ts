import { type Kysely, sql } from 'kysely'

// Frozen in time: bulk invitations (roll-out day) as of 2026-12-02.
/**
 * invitation: a one-time link an admin sent to a contact from a CSV import. The token exists only
 * in the message; its SHA-256 is stored when it is sent. person_id is the person it signs in: set
 * at import when the contact already belongs to someone, else when the link is used (a new person).
 * Instants are epoch ms (UTC), declared bigint so PostgreSQL holds them.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('invitation')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.references('person.id').onDelete('cascade'))
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('contact_kind', 'text', (c) => c.notNull().check(sql`contact_kind in ('email', 'phone')`))
    .addColumn('contact_value', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'sending', 'sent', 'failed', 'used', 'revoked')`),
    )
    .addColumn('error', 'text')
    .addColumn('message_id', 'integer')
    .addColumn('created_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('claimed_at', 'bigint')
    .addColumn('sent_at', 'bigint')
    .addColumn('used_at', 'bigint')
    .addColumn('revoked_at', 'bigint')
    .execute()
  await db.schema.createIndex('invitation_contact_value').on('invitation').column('contact_value').execute()
  await db.schema.createIndex('invitation_status').on('invitation').columns(['status', 'id']).execute()
  await db.schema.createIndex('invitation_person_id').on('invitation').column('person_id').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('invitation').execute()
}
