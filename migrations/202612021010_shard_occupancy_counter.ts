import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../server/db/connect.js'

// Frozen in time: the people-inside counter as of 2026-12-02.
/**
 * The one-row `occupancy` counter made every tap on PostgreSQL update the same row, so with several
 * web processes taps queued on its row lock (85% of active backends waited on it in `npm run
 * bench`). The count now lives in `occupancy_slot`, 64 rows summed on read, and each change goes to
 * the slot of the database connection making it (`pg_backend_pid() % 64`): two connections tapping
 * at once almost never touch the same row, and a transaction changing many visits (auto-close,
 * merge, purge) touches only its own slot, so counter updates can never deadlock each other.
 *
 * A slot alone means nothing (a visit opened on one connection and closed on another leaves one
 * slot +1 and another -1, so there is no per-slot `>= 0` check); the sum is exact, because every
 * change to `visit` adds its delta in the same transaction, as before. Why not count open visits
 * through the partial index instead: the read would grow with the number inside (2,000 → a third
 * of a tap's SQL on SQLite), and SQLite's path must not get slower.
 *
 * SQLite has one writer at a time: its triggers keep using slot 0, at the cost of the old ones.
 * The triggers keep their names; the migration locks `visit` against writes (PostgreSQL) while it
 * moves the count, so a release phase running beside live taps loses none.
 */
const SLOTS = 64

export async function up(db: Kysely<any>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres'
  // SQLite migrations run outside a transaction (Kysely): the move is one, taking the write lock.
  if (!postgres) await sql`begin immediate`.execute(db)
  try {
    if (postgres) await sql`lock table visit in share row exclusive mode`.execute(db)
    await db.schema
      .createTable('occupancy_slot')
      .addColumn('slot', 'integer', (c) => c.primaryKey().check(sql`slot >= 0 and slot < ${sql.lit(SLOTS)}`))
      .addColumn('inside', 'integer', (c) => c.notNull())
      .execute()
    await sql`insert into occupancy_slot (slot, inside)
      select 0, count(*) from visit where signed_out_at is null`.execute(db)
    await db
      .insertInto('occupancy_slot')
      .values(Array.from({ length: SLOTS - 1 }, (_, i) => ({ slot: i + 1, inside: 0 })))
      .execute()
    if (postgres) {
      // The triggers call this function; replacing it moves them to the slots.
      await sql`create or replace function occupancy_visit_count() returns trigger language plpgsql as $$
        begin
          update occupancy_slot set inside = inside + (case
            when tg_op = 'INSERT' then 1
            when tg_op = 'DELETE' then -1
            when new.signed_out_at is null then 1
            else -1 end) where slot = pg_backend_pid() % ${sql.lit(SLOTS)};
          return null;
        end $$`.execute(db)
    } else {
      for (const trigger of ['occupancy_visit_insert', 'occupancy_visit_update', 'occupancy_visit_delete']) {
        await sql`drop trigger ${sql.id(trigger)}`.execute(db)
      }
      for (const statement of sqliteTriggers('occupancy_slot', 'slot = 0')) await statement.execute(db)
    }
    await db.schema.dropTable('occupancy').execute()
    if (!postgres) await sql`commit`.execute(db)
  } catch (error) {
    if (!postgres) await sql`rollback`.execute(db)
    throw error
  }
}

/** The SQLite triggers of 202611232330, counting into `table` where `row`. */
const sqliteTriggers = (table: string, row: string) => [
  sql`create trigger occupancy_visit_insert after insert on visit when new.signed_out_at is null
    begin update ${sql.raw(table)} set inside = inside + 1 where ${sql.raw(row)}; end`,
  sql`create trigger occupancy_visit_update after update of signed_out_at on visit
    when (old.signed_out_at is null) <> (new.signed_out_at is null)
    begin update ${sql.raw(table)} set inside = inside + (case when new.signed_out_at is null then 1 else -1 end) where ${sql.raw(row)}; end`,
  sql`create trigger occupancy_visit_delete after delete on visit when old.signed_out_at is null
    begin update ${sql.raw(table)} set inside = inside - 1 where ${sql.raw(row)}; end`,
]

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres'
  if (!postgres) await sql`begin immediate`.execute(db)
  try {
    if (postgres) await sql`lock table visit in share row exclusive mode`.execute(db)
    await db.schema
      .createTable('occupancy')
      .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
      .addColumn('inside', 'integer', (c) => c.notNull().check(sql`inside >= 0`))
      .execute()
    await sql`insert into occupancy (id, inside) select 1, count(*) from visit where signed_out_at is null`.execute(
      db,
    )
    if (postgres) {
      await sql`create or replace function occupancy_visit_count() returns trigger language plpgsql as $$
        begin
          update occupancy set inside = inside + (case
            when tg_op = 'INSERT' then 1
            when tg_op = 'DELETE' then -1
            when new.signed_out_at is null then 1
            else -1 end) where id = 1;
          return null;
        end $$`.execute(db)
    } else {
      for (const trigger of ['occupancy_visit_insert', 'occupancy_visit_update', 'occupancy_visit_delete']) {
        await sql`drop trigger ${sql.id(trigger)}`.execute(db)
      }
      for (const statement of sqliteTriggers('occupancy', 'id = 1')) await statement.execute(db)
    }
    await db.schema.dropTable('occupancy_slot').execute()
    if (!postgres) await sql`commit`.execute(db)
  } catch (error) {
    if (!postgres) await sql`rollback`.execute(db)
    throw error
  }
}
