import { type Kysely, sql } from 'kysely'
import { dialectOf } from '../server/db/connect.js'

// Frozen in time: the people-inside counter as of 2026-11-23.
// PostgreSQL triggers added 2026-12-01 (before any PostgreSQL deployment existed): same names, same
// conditions, the counting done by one plpgsql function. SQLite databases are unchanged.
/**
 * Every sign-in and sign-out announces how many people are inside. Counting open visits on each
 * tap cost ~70 µs with 2,000 inside (a third of the tap's SQL); a one-row counter kept by triggers
 * costs one row read, and cannot drift: every path that opens, closes, reopens or deletes a visit
 * (taps, auto-close, admin close, merges, the retention purge) goes through these triggers.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('occupancy')
    .addColumn('id', 'integer', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('inside', 'integer', (c) => c.notNull().check(sql`inside >= 0`))
    .execute()
  await sql`insert into occupancy (id, inside) select 1, count(*) from visit where signed_out_at is null`.execute(
    db,
  )
  for (const statement of dialectOf(db) === 'postgres' ? postgresTriggers : sqliteTriggers) {
    await statement.execute(db)
  }
}

const sqliteTriggers = [
  sql`create trigger occupancy_visit_insert after insert on visit when new.signed_out_at is null
    begin update occupancy set inside = inside + 1 where id = 1; end`,
  sql`create trigger occupancy_visit_update after update of signed_out_at on visit
    when (old.signed_out_at is null) <> (new.signed_out_at is null)
    begin update occupancy set inside = inside + (case when new.signed_out_at is null then 1 else -1 end) where id = 1; end`,
  sql`create trigger occupancy_visit_delete after delete on visit when old.signed_out_at is null
    begin update occupancy set inside = inside - 1 where id = 1; end`,
]

const postgresTriggers = [
  sql`create function occupancy_visit_count() returns trigger language plpgsql as $$
    begin
      update occupancy set inside = inside + (case
        when tg_op = 'INSERT' then 1
        when tg_op = 'DELETE' then -1
        when new.signed_out_at is null then 1
        else -1 end) where id = 1;
      return null;
    end $$`,
  sql`create trigger occupancy_visit_insert after insert on visit for each row
    when (new.signed_out_at is null) execute function occupancy_visit_count()`,
  sql`create trigger occupancy_visit_update after update of signed_out_at on visit for each row
    when ((old.signed_out_at is null) <> (new.signed_out_at is null)) execute function occupancy_visit_count()`,
  sql`create trigger occupancy_visit_delete after delete on visit for each row
    when (old.signed_out_at is null) execute function occupancy_visit_count()`,
]

export async function down(db: Kysely<any>): Promise<void> {
  const postgres = dialectOf(db) === 'postgres'
  for (const trigger of ['occupancy_visit_delete', 'occupancy_visit_update', 'occupancy_visit_insert']) {
    await (postgres
      ? sql`drop trigger ${sql.id(trigger)} on visit`
      : sql`drop trigger ${sql.id(trigger)}`
    ).execute(db)
  }
  if (postgres) await sql`drop function occupancy_visit_count`.execute(db)
  await db.schema.dropTable('occupancy').execute()
}
