import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import { testDb, testDialect } from '../testing/test-database.js'
import { connect, type Db } from './connect.js'
import { migrateToLatest } from './migrate.js'

/**
 * One table as the app sees it, the same shape from either database: column kinds (integer and
 * bigint are both "integer" to the app), nullability, defaults, the primary key, indexes (columns,
 * uniqueness, partial or not), foreign keys, check constraints (by column, or by name for
 * table-level ones) and triggers.
 */
interface TableShape {
  columns: Record<string, string>
  primaryKey: string[]
  indexes: string[]
  foreignKeys: string[]
  checks: string[]
  triggers: string[]
}

type Schema = Record<string, TableShape>

const IGNORED = new Set(['kysely_migration', 'kysely_migration_lock', 'sqlite_sequence'])

function kind(declared: string): string {
  const t = declared.toLowerCase()
  if (/int/.test(t)) return 'integer'
  if (/char|text|clob/.test(t)) return 'text'
  if (/real|floa|doub|numeric/.test(t)) return 'real'
  if (/bool/.test(t)) return 'boolean'
  return t
}

/** Defaults compared as values: PostgreSQL adds casts (`'staff'::text`) SQLite does not keep. */
function normalDefault(value: string | null): string {
  if (value === null) return 'none'
  return value.replace(/::[a-z ]+$/i, '').replace(/^\((.*)\)$/, '$1')
}

const onDeleteCodes: Record<string, string> = {
  a: 'no action',
  c: 'cascade',
  n: 'set null',
  r: 'restrict',
  d: 'set default',
}

/** Splits a CREATE TABLE body at its top-level commas. */
function topLevelItems(body: string): string[] {
  const items: string[] = []
  let depth = 0
  let quote = ''
  let current = ''
  for (const ch of body) {
    if (quote) {
      if (ch === quote) quote = ''
    } else if (ch === "'" || ch === '"') quote = ch
    else if (ch === '(') depth++
    else if (ch === ')') depth--
    else if (ch === ',' && depth === 0) {
      items.push(current.trim())
      current = ''
      continue
    }
    current += ch
  }
  if (current.trim()) items.push(current.trim())
  return items
}

async function sqliteSchema(db: Db): Promise<Schema> {
  const schema: Schema = {}
  const tables = await sql<{ name: string; sql: string }>`
    select name, sql from sqlite_master where type = 'table' order by name`.execute(db)
  for (const table of tables.rows) {
    if (IGNORED.has(table.name)) continue
    const info = await sql<{
      name: string
      type: string
      notnull: number
      dflt_value: string | null
      pk: number
    }>`
      select * from pragma_table_info(${table.name})`.execute(db)
    const columns: Record<string, string> = {}
    for (const c of info.rows) {
      // A primary key column is never null, whatever SQLite's declaration says.
      const nullable = c.notnull === 0 && c.pk === 0
      columns[c.name] =
        `${kind(c.type)} ${nullable ? 'null' : 'not null'} default ${normalDefault(c.dflt_value)}`
    }
    const primaryKey = info.rows
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name)
    const indexes: string[] = []
    const list = await sql<{ name: string; unique: number; origin: string; partial: number }>`
      select * from pragma_index_list(${table.name})`.execute(db)
    for (const index of list.rows) {
      if (index.origin === 'pk') continue
      const cols = await sql<{ seqno: number; name: string | null }>`
        select seqno, name from pragma_index_info(${index.name}) order by seqno`.execute(db)
      indexes.push(
        indexShape(
          index.origin === 'c' ? index.name : '(constraint)',
          index.unique === 1,
          index.partial === 1,
          cols.rows.map((c) => c.name ?? '<expression>'),
        ),
      )
    }
    const fks = await sql<{
      id: number
      seq: number
      table: string
      from: string
      to: string
      on_delete: string
    }>`
      select * from pragma_foreign_key_list(${table.name}) order by id, seq`.execute(db)
    const foreignKeys = [...new Set(fks.rows.map((f) => f.id))].map((id) => {
      const parts = fks.rows.filter((f) => f.id === id)
      return foreignKeyShape(
        parts.map((p) => p.from),
        parts[0]!.table,
        parts.map((p) => p.to),
        parts[0]!.on_delete.toLowerCase(),
      )
    })
    const body = table.sql.slice(table.sql.indexOf('(') + 1, table.sql.lastIndexOf(')'))
    const checks: string[] = []
    for (const item of topLevelItems(body)) {
      const named = /^constraint\s+"?([\w]+)"?\s+check\b/i.exec(item)
      if (named) checks.push(named[1]!)
      else if (/\bcheck\s*\(/i.test(item) && !/^(constraint|primary|unique|foreign)\b/i.test(item)) {
        checks.push(`${/^"?([\w]+)"?/.exec(item)![1]}(column)`)
      }
    }
    const triggers = await sql<{ name: string }>`
      select name from sqlite_master where type = 'trigger' and tbl_name = ${table.name}`.execute(db)
    const triggerNames = triggers.rows.map((r) => r.name)
    schema[table.name] = sorted({ columns, primaryKey, indexes, foreignKeys, checks, triggers: triggerNames })
  }
  return schema
}

async function postgresSchema(db: Db): Promise<Schema> {
  const schema: Schema = {}
  const tables = await sql<{ name: string }>`
    select table_name as name from information_schema.tables
    where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name`.execute(db)
  for (const { name: table } of tables.rows) {
    if (IGNORED.has(table)) continue
    const info = await sql<{ name: string; type: string; nullable: string; dflt: string | null }>`
      select column_name as name, data_type as type, is_nullable as nullable, column_default as dflt
      from information_schema.columns where table_schema = 'public' and table_name = ${table}
      order by ordinal_position`.execute(db)
    const columns: Record<string, string> = {}
    for (const c of info.rows) {
      columns[c.name] =
        `${kind(c.type)} ${c.nullable === 'YES' ? 'null' : 'not null'} default ${normalDefault(c.dflt)}`
    }
    const constraints = await sql<{
      name: string
      type: string
      columns: string[]
      ref_table: string | null
      ref_columns: string[] | null
      on_delete: string
    }>`
      select c.conname as name, c.contype as type,
        array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
              join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)::text[] as columns,
        c.confrelid::regclass::text as ref_table,
        array(select a.attname from unnest(c.confkey) with ordinality k(n, i)
              join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.n order by k.i)::text[] as ref_columns,
        c.confdeltype as on_delete
      from pg_constraint c where c.conrelid = ${table}::regclass`.execute(db)
    const primaryKey = constraints.rows.find((c) => c.type === 'p')?.columns ?? []
    const foreignKeys = constraints.rows
      .filter((c) => c.type === 'f')
      .map((c) => foreignKeyShape(c.columns, c.ref_table!, c.ref_columns!, onDeleteCodes[c.on_delete]!))
    const checks = constraints.rows
      .filter((c) => c.type === 'c')
      .map((c) => (c.name === `${table}_${c.columns[0]}_check` ? `${c.columns[0]}(column)` : c.name))
    const uniqueConstraints = new Set(constraints.rows.filter((c) => c.type === 'u').map((c) => c.name))
    const indexRows = await sql<{ name: string; unique: boolean; partial: boolean; columns: string[] }>`
      select ic.relname as name, i.indisunique as unique, i.indpred is not null as partial,
        array(select coalesce(a.attname, '<expression>') from unnest(i.indkey) with ordinality k(n, o)
              left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.n order by k.o)::text[] as columns
      from pg_index i join pg_class ic on ic.oid = i.indexrelid
      where i.indrelid = ${table}::regclass and not i.indisprimary`.execute(db)
    const indexes = indexRows.rows.map((i) =>
      indexShape(uniqueConstraints.has(i.name) ? '(constraint)' : i.name, i.unique, i.partial, i.columns),
    )
    const triggers = await sql<{ name: string }>`
      select tgname as name from pg_trigger where tgrelid = ${table}::regclass and not tgisinternal`.execute(
      db,
    )
    const triggerNames = triggers.rows.map((r) => r.name)
    schema[table] = sorted({ columns, primaryKey, indexes, foreignKeys, checks, triggers: triggerNames })
  }
  return schema
}

/** Lists compared as sets: the order databases report them in means nothing. */
function sorted(shape: TableShape): TableShape {
  const { columns, primaryKey, ...lists } = shape
  const each = Object.fromEntries(Object.entries(lists).map(([k, v]) => [k, [...v].sort()]))
  return { columns, primaryKey, ...each } as TableShape
}

function indexShape(name: string, unique: boolean, partial: boolean, columns: string[]): string {
  return `${name}: ${unique ? 'unique ' : ''}(${columns.join(', ')})${partial ? ' partial' : ''}`
}

function foreignKeyShape(from: string[], table: string, to: string[], onDelete: string): string {
  return `(${from.join(', ')}) → ${table}(${to.join(', ')}) on delete ${onDelete}`
}

test('migrations give SQLite and PostgreSQL the same schema, as the app sees it', {
  skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
}, async (t) => {
  const { db: sqlite } = connect(':memory:')
  t.after(() => sqlite.destroy())
  await migrateToLatest(sqlite)
  const postgres = await testDb(t)
  const [fromSqlite, fromPostgres] = [await sqliteSchema(sqlite), await postgresSchema(postgres)]
  assert.ok(Object.keys(fromSqlite).length >= 15, 'the introspection sees the tables')
  assert.ok(fromSqlite.visit!.checks.includes('visit_closed_consistently'), 'and the checks')
  assert.deepEqual(fromPostgres, fromSqlite)
})

test('every instant column (…_at) is a bigint on PostgreSQL: epoch milliseconds overflow integer', {
  skip: testDialect !== 'postgres' && 'needs PostgreSQL (TEST_DATABASE=postgres)',
}, async (t) => {
  const db = await testDb(t)
  const narrow = await sql<{ column: string }>`
    select table_name || '.' || column_name as column from information_schema.columns
    where table_schema = 'public' and (column_name like '%\\_at' or column_name = 'at')
      and data_type <> 'bigint' order by 1`.execute(db)
  assert.deepEqual(
    narrow.rows.map((r) => r.column),
    [],
    'declare these `bigint` in their migration (SQLite treats bigint and integer alike)',
  )
})
