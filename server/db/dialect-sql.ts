import { type RawBuilder, sql } from 'kysely'
import { type Db, dialectOf } from './connect.js'

// The few SQL fragments SQLite and PostgreSQL spell differently, each chosen by the database the
// query runs on. Repository functions use these; nothing else asks which database it is.

/** A number stored under `key` in a JSON text column (null when absent or not a number). */
export function jsonNumber(db: Db, column: string, key: string): RawBuilder<number | null> {
  return dialectOf(db) === 'postgres'
    ? sql<number | null>`(case when jsonb_typeof(${sql.ref(column)}::jsonb -> ${key}) = 'number'
        then (${sql.ref(column)}::jsonb ->> ${key})::bigint end)`
    : sql<number | null>`json_extract(${sql.ref(column)}, ${`$.${key}`})`
}

/** The hidden physical row identifier (SQLite's rowid, PostgreSQL's ctid), for batched deletes. */
export function rowIdentity(db: Db): RawBuilder<unknown> {
  return dialectOf(db) === 'postgres' ? sql`ctid` : sql`rowid`
}
