import { type Kysely, sql } from 'kysely'

// Frozen in time: organisation sign-in as of 2026-12-01.
/**
 * sso_identity remembers which account at which provider (issuer + subject) is which person, so a
 * later sign-in finds them even after their email changes. device.signed_in_with records how a
 * device was recognised, so roles that need the organisation sign-in can refuse code-only devices.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sso_identity')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('issuer', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('email', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_login_at', 'bigint', (c) => c.notNull())
    .addUniqueConstraint('sso_identity_issuer_subject', ['issuer', 'subject'])
    .execute()
  await db.schema.createIndex('sso_identity_person_id').on('sso_identity').column('person_id').execute()
  await db.schema
    .alterTable('device')
    .addColumn('signed_in_with', 'text', (c) =>
      c.notNull().defaultTo('code').check(sql`signed_in_with in ('code', 'sso')`),
    )
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('device').dropColumn('signed_in_with').execute()
  await db.schema.dropTable('sso_identity').execute()
}
