import { type Kysely, sql } from 'kysely'

// Frozen in time: directory sync (SCIM 2.0) as of 2026-12-01.
/**
 * directory_user: a person the organisation's directory (Entra ID, Okta) manages through SCIM, with
 * its userName (unique, compared case-insensitively through user_name_key) and externalId.
 * integration_token.purpose: 'api' tokens open the JSON API, 'scim' tokens only /scim/v2.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('directory_user')
    .addColumn('person_id', 'integer', (c) => c.primaryKey().references('person.id').onDelete('cascade'))
    .addColumn('user_name', 'text', (c) => c.notNull())
    .addColumn('user_name_key', 'text', (c) => c.notNull().unique())
    .addColumn('external_id', 'text')
    .addColumn('active', 'integer', (c) => c.notNull().check(sql`active in (0, 1)`))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema
    .createIndex('directory_user_external_id')
    .on('directory_user')
    .column('external_id')
    .execute()
  await db.schema
    .alterTable('integration_token')
    .addColumn('purpose', 'text', (c) => c.notNull().defaultTo('api').check(sql`purpose in ('api', 'scim')`))
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('integration_token').dropColumn('purpose').execute()
  await db.schema.dropTable('directory_user').execute()
}
