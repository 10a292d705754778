import { type Kysely, sql } from 'kysely'

// Frozen in time: the people-inside counter as of 2026-11-23.
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
  await sql`create trigger occupancy_visit_insert after insert on visit when new.signed_out_at is null
    begin update occupancy set inside = inside + 1 where id = 1; end`.execute(db)
  await sql`create trigger occupancy_visit_update after update of signed_out_at on visit
    when (old.signed_out_at is null) <> (new.signed_out_at is null)
    begin update occupancy set inside = inside + (case when new.signed_out_at is null then 1 else -1 end) where id = 1; end`.execute(
    db,
  )
  await sql`create trigger occupancy_visit_delete after delete on visit when old.signed_out_at is null
    begin update occupancy set inside = inside - 1 where id = 1; end`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger occupancy_visit_delete`.execute(db)
  await sql`drop trigger occupancy_visit_update`.execute(db)
  await sql`drop trigger occupancy_visit_insert`.execute(db)
  await db.schema.dropTable('occupancy').execute()
}
