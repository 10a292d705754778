import { createHash } from 'node:crypto'
import { sql } from 'kysely'
import { countPeopleInside } from '../register/visit.repository.js'
import { type Db, dialectOf } from './connect.js'
import { migrateToLatest, pendingMigrations } from './migrate.js'
import { unitOfWork } from './unit-of-work.js'

/** Kysely's own bookkeeping: the target has its own, written by `npm run migrate`. */
const MIGRATION_TABLES = new Set(['kysely_migration', 'kysely_migration_lock'])

/** Kept by triggers from the rows of other tables (visit): filled by the copy, then checked. */
const DERIVED_TABLES = new Set(['occupancy_slot'])

/** The copy cannot start (wrong databases, target not empty or not migrated); nothing was written. */
export class CopyRefused extends Error {}

/** What was copied: rows and checksum per table, the same on both sides. */
export interface CopiedTable {
  table: string
  rows: number
  checksum: string
}

interface Table {
  name: string
  columns: string[]
  /** Ordering the copy reads in: the primary key. */
  key: string[]
  /** The identity column whose sequence must move past the copied ids. */
  identity: string | undefined
  /** Tables this one's foreign keys point at. */
  references: string[]
}

/**
 * Copies every table of a SQLite register into an empty, migrated PostgreSQL one, in batches, in
 * one transaction: it verifies row counts and a checksum per table before committing, and moves
 * every id sequence past the highest copied id. Refuses a target holding any rows, or one whose
 * migrations differ from the source's (an older source file is migrated first, as starting the
 * app would).
 */
export async function copyDatabase(
  from: Db,
  to: Db,
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<CopiedTable[]> {
  if (dialectOf(from) !== 'sqlite' || dialectOf(to) !== 'postgres') {
    throw new CopyRefused('db:copy copies a SQLite register (--from) into a PostgreSQL one (--to).')
  }
  const behind = await pendingMigrations(to)
  if (behind.length > 0) {
    throw new CopyRefused(
      `The target database is not migrated (${behind.length} migration(s) pending). Run \`npm run migrate\` with DATABASE_URL set to it first.`,
    )
  }
  await migrateToLatest(from)
  const tables = dependencyOrder(await postgresTables(to))
  const total = await refuseNonEmpty(from, to, tables)
  const batchSize = options.batchSize ?? 500
  return unitOfWork(to, async (trx) => {
    // Counted from here: a unit of work PostgreSQL rolled back (a deadlock) runs again from the start.
    let done = 0
    options.onProgress?.(0, total)
    for (const table of tables) {
      if (DERIVED_TABLES.has(table.name)) continue
      for await (const rows of readInBatches(from, table, batchSize)) {
        await insertRows(trx, table, rows)
        done += rows.length
        options.onProgress?.(done, total)
      }
    }
    const copied: CopiedTable[] = []
    const [insideFrom, insideTo] = [await countPeopleInside(from), await countPeopleInside(trx)]
    if (insideFrom !== insideTo) {
      throw new Error(
        `The people-inside count does not match (${insideFrom} in SQLite, ${insideTo} in PostgreSQL). Nothing was committed.`,
      )
    }
    for (const table of tables) {
      // Kept by triggers as the visits arrive: its rows differ (slots), its sum is checked above.
      if (DERIVED_TABLES.has(table.name)) continue
      const [source, target] = [await summarise(from, table), await summarise(trx, table)]
      if (source.rows !== target.rows || source.checksum !== target.checksum) {
        throw new Error(
          `${table.name}: the copy does not match (${source.rows} rows, checksum ${source.checksum} in SQLite; ${target.rows} rows, checksum ${target.checksum} in PostgreSQL). Nothing was committed.`,
        )
      }
      copied.push({ table: table.name, ...source })
    }
    for (const table of tables) {
      if (!table.identity) continue
      const id = sql.ref(table.identity)
      await sql`select setval(pg_get_serial_sequence(${table.name}, ${table.identity}),
        coalesce((select max(${id}) from ${sql.table(table.name)}), 0) + 1, false)`.execute(trx)
    }
    return copied
  })
}

async function postgresTables(db: Db): Promise<Table[]> {
  const columns = await sql<{ table: string; column: string; identity: string }>`
    select table_name as table, column_name as column, is_identity as identity
    from information_schema.columns where table_schema = current_schema()
    order by table_name, ordinal_position`.execute(db)
  const keys = await sql<{ table: string; type: string; columns: string[]; references: string | null }>`
    select c.conrelid::regclass::text as table, c.contype as type, c.confrelid::regclass::text as references,
      array(select a.attname from unnest(c.conkey) with ordinality k(n, i)
            join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.n order by k.i)::text[] as columns
    from pg_constraint c join pg_namespace n on n.oid = c.connamespace
    where n.nspname = current_schema() and c.contype in ('p', 'f')`.execute(db)
  const tables = new Map<string, Table>()
  for (const c of columns.rows) {
    if (MIGRATION_TABLES.has(c.table)) continue
    let table = tables.get(c.table)
    if (!table) {
      table = { name: c.table, columns: [], key: [], identity: undefined, references: [] }
      tables.set(c.table, table)
    }
    table.columns.push(c.column)
    if (c.identity === 'YES') table.identity = c.column
  }
  for (const k of keys.rows) {
    const table = tables.get(k.table)
    if (!table) continue
    if (k.type === 'p') table.key = k.columns
    else if (k.references && k.references !== k.table) table.references.push(k.references)
  }
  return [...tables.values()]
}

/** Referenced tables before the tables that point at them. */
function dependencyOrder(tables: Table[]): Table[] {
  const byName = new Map(tables.map((t) => [t.name, t]))
  const ordered: Table[] = []
  const seen = new Set<string>()
  const visit = (table: Table) => {
    if (seen.has(table.name)) return
    seen.add(table.name)
    for (const name of table.references) {
      const referenced = byName.get(name)
      if (referenced) visit(referenced)
    }
    ordered.push(table)
  }
  for (const table of [...tables].sort((a, b) => a.name.localeCompare(b.name))) visit(table)
  return ordered
}

/** Throws when the target has rows (other than what triggers keep); returns the rows to copy. */
async function refuseNonEmpty(from: Db, to: Db, tables: Table[]): Promise<number> {
  const sourceTables = new Set(
    (await from.introspection.getTables()).filter((t) => !t.isView).map((t) => t.name),
  )
  let total = 0
  const filled: string[] = []
  for (const table of tables) {
    if (DERIVED_TABLES.has(table.name)) continue
    if (!sourceTables.has(table.name))
      throw new CopyRefused(`The SQLite register has no table ${table.name}.`)
    if ((await countRows(to, table.name)) > 0) filled.push(table.name)
    total += await countRows(from, table.name)
  }
  if (filled.length > 0) {
    throw new CopyRefused(
      `The target database is not empty (rows in ${filled.join(', ')}). db:copy only fills an empty, freshly migrated database; nothing was copied.`,
    )
  }
  return total
}

async function countRows(db: Db, table: string): Promise<number> {
  const result = await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)
  return Number(result.rows[0]?.n ?? 0)
}

type Row = Record<string, unknown>

/** Every row of a table in primary-key order, `size` at a time (keyset pagination, no offset). */
async function* readInBatches(db: Db, table: Table, size: number): AsyncGenerator<Row[]> {
  const columns = sql.join(table.columns.map((c) => sql.ref(c)))
  const key = table.key.length > 0 ? table.key : table.columns
  const order = sql.join(key.map((c) => sql.ref(c)))
  let last: unknown[] | undefined
  for (;;) {
    const after = last ? sql`where (${order}) > (${sql.join(last)})` : sql``
    const { rows } = await sql<Row>`select ${columns} from ${sql.table(table.name)} ${after}
      order by ${order} limit ${size}`.execute(db)
    if (rows.length === 0) return
    yield rows
    const tail = rows.at(-1)!
    last = key.map((c) => tail[c])
    if (rows.length < size) return
  }
}

async function insertRows(db: Db, table: Table, rows: Row[]): Promise<void> {
  const columns = sql.join(table.columns.map((c) => sql.ref(c)))
  const values = sql.join(rows.map((row) => sql`(${sql.join(table.columns.map((c) => row[c] ?? null))})`))
  // Identity columns take the copied ids as they are (`generated by default`).
  await sql`insert into ${sql.table(table.name)} (${columns}) values ${values}`.execute(db)
}

/**
 * Row count and an order-independent checksum: the sum of each row's SHA-256 (its values in
 * column order, typed as the app reads them), so it does not depend on either side's sort order.
 */
async function summarise(db: Db, table: Table): Promise<{ rows: number; checksum: string }> {
  let sum = 0n
  let rows = 0
  for await (const batch of readInBatches(db, table, 2000)) {
    for (const row of batch) {
      const line = JSON.stringify(table.columns.map((c) => row[c] ?? null))
      sum = (sum + BigInt(`0x${createHash('sha256').update(line).digest('hex')}`)) % 2n ** 256n
      rows++
    }
  }
  return { rows, checksum: sum.toString(16).padStart(64, '0').slice(0, 16) }
}
