import { type Kysely, sql } from 'kysely'

// Frozen in time: roll calls and broadcasts as of 2026-11-23. Instants are epoch ms (UTC).
// Instant columns are `bigint` (changed 2026-12-01, before any PostgreSQL deployment existed): SQLite
// gives `bigint` and `integer` the same INTEGER affinity, so SQLite databases migrated earlier are
// unchanged; PostgreSQL needs 64 bits for epoch ms.

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('roll_call')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('drill', 'real')`))
    .addColumn('started_at', 'bigint', (c) => c.notNull())
    .addColumn('started_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('ended_at', 'bigint')
    .addColumn('ended_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .execute()
  // At most one roll call runs at a time: a second tap on "start" finds the running one.
  await db.schema
    .createIndex('roll_call_one_active')
    .on('roll_call')
    .expression(sql`(ended_at is null)`)
    .unique()
    .where(sql.ref('ended_at'), 'is', null)
    .execute()

  // Who was inside when the roll call started, copied so later renames or visits change nothing.
  await db.schema
    .createTable('roll_call_person')
    .addColumn('roll_call_id', 'integer', (c) => c.notNull().references('roll_call.id').onDelete('cascade'))
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('first_name', 'text', (c) => c.notNull())
    .addColumn('last_name', 'text', (c) => c.notNull())
    .addColumn('signed_in_at', 'bigint', (c) => c.notNull())
    .addColumn('confirmed', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('roll_call_person_pk', ['roll_call_id', 'person_id'])
    .execute()

  // The latest mark per person: one row per (roll call, person), overwritten by the next mark.
  await db.schema
    .createTable('roll_call_mark')
    .addColumn('roll_call_id', 'integer', (c) => c.notNull().references('roll_call.id').onDelete('cascade'))
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('safe', 'missing', 'help', 'unaccounted')`),
    )
    .addColumn('via', 'text', (c) => c.notNull().check(sql`via in ('marshal', 'self')`))
    .addColumn('marked_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('marked_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('roll_call_mark_pk', ['roll_call_id', 'person_id'])
    .execute()

  await db.schema
    .createTable('broadcast')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('template', 'text', (c) =>
      c.notNull().check(sql`template in ('drill', 'evacuation', 'closure', 'free')`),
    )
    .addColumn('audience', 'text', (c) => c.notNull().check(sql`audience in ('inside', 'everyone')`))
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('ask_safety', 'integer', (c) => c.notNull())
    .addColumn('roll_call_id', 'integer', (c) => c.references('roll_call.id').onDelete('set null'))
    .addColumn('created_by', 'integer', (c) => c.references('person.id').onDelete('set null'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('broadcast_created_at').on('broadcast').column('created_at').execute()

  await db.schema
    .createTable('broadcast_recipient')
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('broadcast_id', 'integer', (c) => c.notNull().references('broadcast.id').onDelete('cascade'))
    .addColumn('person_id', 'integer', (c) => c.notNull().references('person.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'sending', 'sent', 'failed')`),
    )
    .addColumn('contact_kind', 'text', (c) => c.check(sql`contact_kind in ('email', 'phone')`))
    .addColumn('contact_value', 'text')
    .addColumn('channel', 'text')
    .addColumn('provider_id', 'text')
    // The messenger's own log row for this send, when it keeps one (delivery reports land there).
    .addColumn('message_id', 'integer')
    .addColumn('error', 'text')
    .addColumn('sent_at', 'bigint')
    .addColumn('answer', 'text', (c) => c.check(sql`answer in ('safe', 'help')`))
    .addColumn('answered_at', 'bigint')
    .addColumn('safe_link_used_at', 'bigint')
    .addColumn('help_link_used_at', 'bigint')
    .addUniqueConstraint('broadcast_recipient_once', ['broadcast_id', 'person_id'])
    .execute()
  await db.schema
    .createIndex('broadcast_recipient_provider_id')
    .on('broadcast_recipient')
    .column('provider_id')
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'broadcast_recipient',
    'broadcast',
    'roll_call_mark',
    'roll_call_person',
    'roll_call',
  ]) {
    await db.schema.dropTable(table).execute()
  }
}
