import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../server/db/connect.js'

// Frozen in time: a visitor's arrival is an outbox event too (2026-12-02), written in the
// transaction of the sign-in: the worker (or the embedded scheduler) tells the host and posts to
// the chat webhooks from it. Only the topic check changes.

const topics = (list: string[]) => sql`topic in (${sql.join(list.map((t) => sql.lit(t)))})`

async function setTopics(db: Kysely<any>, list: string[]): Promise<void> {
  if (dialectOf(db) === 'postgres') {
    await db.schema.alterTable('outbox').dropConstraint('outbox_topic_check').execute()
    await db.schema.alterTable('outbox').addCheckConstraint('outbox_topic_check', topics(list)).execute()
    return
  }
  // SQLite cannot change a check: the table is rebuilt (its documented 12-step way). Foreign keys
  // are off meanwhile, so dropping the old table does not cascade to outbox_delivery's rows.
  // Kysely runs SQLite migrations outside a transaction, so the pragma takes effect.
  await sql`pragma foreign_keys = off`.execute(db)
  try {
    await db.transaction().execute(async (trx) => {
      await trx.schema
        .createTable('outbox_next')
        .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement())
        .addColumn('topic', 'text', (c) => c.notNull().check(topics(list)))
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('relayed_at', 'bigint')
        .execute()
      await sql`insert into outbox_next (id, topic, payload, created_at, relayed_at)
        select id, topic, payload, created_at, relayed_at from outbox`.execute(trx)
      await trx.schema.dropTable('outbox').execute()
      await trx.schema.alterTable('outbox_next').renameTo('outbox').execute()
      await trx.schema
        .createIndex('outbox_unrelayed')
        .on('outbox')
        .column('id')
        .where(sql.ref('relayed_at'), 'is', null)
        .execute()
      const broken = await sql`pragma foreign_key_check`.execute(trx)
      if (broken.rows.length > 0) throw new Error('outbox rebuild left dangling foreign keys')
    })
  } finally {
    await sql`pragma foreign_keys = on`.execute(db)
  }
}

export async function up(db: Kysely<any>): Promise<void> {
  await setTopics(db, ['presence', 'digest', 'visitor-arrival'])
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.deleteFrom('outbox').where('topic', '=', 'visitor-arrival').execute()
  await setTopics(db, ['presence', 'digest'])
}
