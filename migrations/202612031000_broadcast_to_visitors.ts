import { type CreateTableBuilder, type Kysely, sql } from 'kysely'
import { dialectOf } from '../server/db/connect.js'

// Frozen in time: a broadcast to everyone in the building reaches visitors too (2026-12-03). A
// recipient is a person or a visitor, never both; a visitor's own answer on a roll call is marked
// as theirs (`roll_call_visitor.via`). Instants are epoch ms (UTC), bigint.

/** The recipients table with `person_id` required (before) or either of person and visitor (after). */
async function createRecipients(db: Kysely<any>, name: string, visitors: boolean): Promise<void> {
  let table: CreateTableBuilder<string, any> = db.schema
    .createTable(name)
    .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
    .addColumn('broadcast_id', 'integer', (c) => c.notNull().references('broadcast.id').onDelete('cascade'))
    .addColumn('person_id', 'integer', (c) =>
      visitors
        ? c.references('person.id').onDelete('cascade')
        : c.notNull().references('person.id').onDelete('cascade'),
    )
  if (visitors)
    table = table.addColumn('visitor_id', 'integer', (c) => c.references('visitor.id').onDelete('cascade'))
  table = table
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status in ('pending', 'sending', 'sent', 'failed')`),
    )
    .addColumn('contact_kind', 'text', (c) => c.check(sql`contact_kind in ('email', 'phone')`))
    .addColumn('contact_value', 'text')
    .addColumn('channel', 'text')
    .addColumn('provider_id', 'text')
    .addColumn('message_id', 'integer')
    .addColumn('error', 'text')
    .addColumn('sent_at', 'bigint')
    .addColumn('answer', 'text', (c) => c.check(sql`answer in ('safe', 'help')`))
    .addColumn('answered_at', 'bigint')
    .addColumn('safe_link_used_at', 'bigint')
    .addColumn('help_link_used_at', 'bigint')
    .addUniqueConstraint('broadcast_recipient_once', ['broadcast_id', 'person_id'])
  if (visitors)
    table = table
      .addUniqueConstraint('broadcast_recipient_visitor_once', ['broadcast_id', 'visitor_id'])
      .addCheckConstraint('broadcast_recipient_one_who', sql`(person_id is null) <> (visitor_id is null)`)
  await table.execute()
}

/** SQLite cannot change a column's NOT NULL: the table is rebuilt (its documented 12-step way). */
async function rebuildOnSqlite(db: Kysely<any>, visitors: boolean): Promise<void> {
  await sql`pragma foreign_keys = off`.execute(db)
  try {
    await db.transaction().execute(async (trx) => {
      // AUTOINCREMENT never reuses an id (reply links are signed with it): keep the high-water mark.
      const sequence = await sql<{
        seq: number
      }>`select seq from sqlite_sequence where name = 'broadcast_recipient'`.execute(trx)
      await createRecipients(trx, 'broadcast_recipient_next', visitors)
      const columns = sql.raw(
        'id, broadcast_id, person_id, status, contact_kind, contact_value, channel, provider_id, message_id, error, sent_at, answer, answered_at, safe_link_used_at, help_link_used_at',
      )
      await sql`insert into broadcast_recipient_next (${columns}) select ${columns} from broadcast_recipient
        where person_id is not null`.execute(trx)
      await trx.schema.dropTable('broadcast_recipient').execute()
      await trx.schema.alterTable('broadcast_recipient_next').renameTo('broadcast_recipient').execute()
      const seq = sequence.rows[0]?.seq
      if (seq !== undefined) {
        await sql`update sqlite_sequence set seq = max(seq, ${seq}) where name = 'broadcast_recipient'`.execute(
          trx,
        )
        await sql`insert into sqlite_sequence (name, seq) select 'broadcast_recipient', ${seq}
          where not exists (select 1 from sqlite_sequence where name = 'broadcast_recipient')`.execute(trx)
      }
      await indexes(trx)
      const broken = await sql`pragma foreign_key_check`.execute(trx)
      if (broken.rows.length > 0) throw new Error('broadcast_recipient rebuild left dangling foreign keys')
    })
  } finally {
    await sql`pragma foreign_keys = on`.execute(db)
  }
}

async function indexes(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('broadcast_recipient_provider_id')
    .on('broadcast_recipient')
    .column('provider_id')
    .execute()
  await db.schema
    .createIndex('broadcast_recipient_status')
    .on('broadcast_recipient')
    .columns(['status', 'broadcast_id'])
    .execute()
}

export async function up(db: Kysely<any>): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    await sql`alter table broadcast_recipient alter column person_id drop not null`.execute(db)
    await db.schema
      .alterTable('broadcast_recipient')
      .addColumn('visitor_id', 'integer', (c) => c.references('visitor.id').onDelete('cascade'))
      .execute()
    await db.schema
      .alterTable('broadcast_recipient')
      .addUniqueConstraint('broadcast_recipient_visitor_once', ['broadcast_id', 'visitor_id'])
      .execute()
    await db.schema
      .alterTable('broadcast_recipient')
      .addCheckConstraint('broadcast_recipient_one_who', sql`(person_id is null) <> (visitor_id is null)`)
      .execute()
  } else {
    await rebuildOnSqlite(db, true)
  }
  await db.schema.alterTable('roll_call_visitor').addColumn('via', 'text').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('roll_call_visitor').dropColumn('via').execute()
  if (dialectOf(db) === 'postgres') {
    await db.deleteFrom('broadcast_recipient').where('person_id', 'is', null).execute()
    await db.schema.alterTable('broadcast_recipient').dropConstraint('broadcast_recipient_one_who').execute()
    await db.schema
      .alterTable('broadcast_recipient')
      .dropConstraint('broadcast_recipient_visitor_once')
      .execute()
    await db.schema.alterTable('broadcast_recipient').dropColumn('visitor_id').execute()
    await sql`alter table broadcast_recipient alter column person_id set not null`.execute(db)
  } else {
    await rebuildOnSqlite(db, false)
  }
}
