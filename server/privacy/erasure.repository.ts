import { type ExpressionBuilder, type Kysely, sql } from 'kysely'
import type { Db } from '../db/connect.js'

// Erasure reaches tables by name (from PERSON_TABLES and the free-text list), so these queries
// work on any table; the names come from code, never from input.

/** Rows of any table, for reading and changing tables by name. */
type AnyDb = Kysely<Record<string, Record<string, unknown>>>
const anyDb = (db: Db) => db as unknown as AnyDb

/** Which rows of a table are about a person: by its person column, or by one of their contacts. */
export interface RowsAbout {
  table: string
  column: string
  contactColumn?: string
  personId: number
  contacts: readonly string[]
}

function about(eb: ExpressionBuilder<Record<string, Record<string, unknown>>, string>, rows: RowsAbout) {
  return rows.contactColumn && rows.contacts.length > 0
    ? eb.or([eb(rows.column, '=', rows.personId), eb(rows.contactColumn, 'in', rows.contacts)])
    : eb(rows.column, '=', rows.personId)
}

/** Every row of a table about a person, all columns. */
export async function selectRowsAbout(db: Db, rows: RowsAbout): Promise<Record<string, unknown>[]> {
  return anyDb(db)
    .selectFrom(rows.table)
    .selectAll()
    .where((eb) => about(eb, rows))
    .execute()
}

/** How many rows of a table are about a person. */
export async function countRowsAbout(db: Db, rows: RowsAbout): Promise<number> {
  const row = await anyDb(db)
    .selectFrom(rows.table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where((eb) => about(eb, rows))
    .executeTakeFirstOrThrow()
  return Number(row.n)
}

/** Deletes every row of a table about a person; returns how many went. */
export async function deleteRowsAbout(db: Db, rows: RowsAbout): Promise<number> {
  const result = await anyDb(db)
    .deleteFrom(rows.table)
    .where((eb) => about(eb, rows))
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** Overwrites columns in every row of a table about a person; returns how many changed. */
export async function updateRowsAbout(
  db: Db,
  rows: RowsAbout,
  set: Record<string, string | null>,
): Promise<number> {
  const result = await anyDb(db)
    .updateTable(rows.table)
    .set(set)
    .where((eb) => about(eb, rows))
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

const likePattern = (term: string) => `%${term.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/**
 * The distinct values of a text column that contain any of the terms, ignoring case (a superset:
 * the caller decides what in them to change).
 */
export async function findTextContaining(
  db: Db,
  table: string,
  column: string,
  terms: readonly string[],
): Promise<string[]> {
  if (terms.length === 0) return []
  const rows = await anyDb(db)
    .selectFrom(table)
    .select(sql<string>`${sql.ref(column)}`.as('value'))
    .distinct()
    .where((eb) =>
      eb.or(
        terms.map((term) => sql<boolean>`lower(${sql.ref(column)}) like ${likePattern(term)} escape '\\'`),
      ),
    )
    .execute()
  return rows.map((row) => String(row.value))
}

/** Replaces one exact value of a text column everywhere it occurs; returns how many rows changed. */
export async function replaceTextValue(
  db: Db,
  table: string,
  column: string,
  from: string,
  to: string,
): Promise<number> {
  const result = await anyDb(db)
    .updateTable(table)
    .set({ [column]: to })
    .where(column, '=', from)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}

/** The identifiers other systems know a person by: SSO accounts and their directory record. */
export async function externalIdentifiers(db: Db, personId: number): Promise<string[]> {
  const sso = await db
    .selectFrom('sso_identity')
    .select(['subject', 'email'])
    .where('person_id', '=', personId)
    .execute()
  const directory = await db
    .selectFrom('directory_user')
    .select(['user_name', 'external_id'])
    .where('person_id', '=', personId)
    .execute()
  return [
    ...sso.flatMap((s) => [s.subject, s.email]),
    ...directory.flatMap((d) => [d.user_name, d.external_id]),
  ].filter((value): value is string => typeof value === 'string' && value !== '')
}
