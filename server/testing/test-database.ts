import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import SQLite from 'better-sqlite3'
import pg from 'pg'
import { connect, connectPostgres, type Db, type Dialect } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'

/**
 * Which database the tests run on: `TEST_DATABASE=postgres` (scripts/test.sh sets it for the
 * second run of the suite), else SQLite.
 */
export const testDialect: Dialect = process.env.TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite'

/** The PostgreSQL server tests create their databases on (any database of it; its `postgres` one). */
const serverUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** Names of everything this run creates start with this, so a run can remove what it left behind. */
const prefix = `br_test_${process.env.TEST_RUN_ID ?? 'adhoc'}_`

let admin: pg.Pool | undefined
let template: Promise<string> | undefined

/** One connection to the server for CREATE/DROP DATABASE; it never keeps the process alive. */
function adminPool(): pg.Pool {
  admin ??= new pg.Pool({ connectionString: serverUrl, max: 2, allowExitOnIdle: true })
  return admin
}

/** A URL of the test server with another database name. */
export function postgresUrl(database: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  // Test data need not survive a power cut: commits skip the wait for the disk.
  url.searchParams.set('options', '-c synchronous_commit=off')
  return url.toString()
}

/** A name for a database or role no other test, process or run uses. */
export function uniqueName(kind: string): string {
  return `${prefix}${kind}_${process.pid}_${randomBytes(4).toString('hex')}`
}

/** Runs one statement on the test server as its superuser. */
export async function onTestServer(statement: string): Promise<void> {
  await adminPool().query(statement)
}

/** Creates a database migrated to latest, to copy test databases from; returns its name. */
export async function createTemplate(): Promise<string> {
  const name = uniqueName('template')
  await onTestServer(`create database ${name}`)
  const { db } = connectPostgres(postgresUrl(name), { poolSize: 1 })
  try {
    await migrateToLatest(db)
  } finally {
    await db.destroy()
  }
  return name
}

/**
 * The migrated template every test database is copied from: scripts/test.sh makes one per run
 * (TEST_POSTGRES_TEMPLATE); a file run on its own makes its own, dropped when the process ends.
 */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const given = process.env.TEST_POSTGRES_TEMPLATE
    if (given) return given
    const name = await createTemplate()
    let dropped = false
    process.on('beforeExit', () => {
      if (dropped) return
      dropped = true
      void onTestServer(`drop database if exists ${name} with (force)`)
    })
    return name
  })()
  return template
}

async function createDatabase(source: string): Promise<string> {
  const name = uniqueName('db')
  await onTestServer(`create database ${name} template ${source}`)
  return name
}

let spare: Promise<string> | undefined

/**
 * A migrated database, made while the previous test ran: copying the template takes most of a
 * second, and tests ask for one after another. The last spare is dropped when the process ends.
 */
async function takeSpare(): Promise<string> {
  const taken = spare ?? migratedTemplate().then(createDatabase)
  const name = await taken
  spare = migratedTemplate().then(createDatabase)
  // A failure surfaces when the next test takes it; unobserved until then.
  spare.catch(() => {})
  return name
}

process.on('beforeExit', () => {
  const last = spare
  spare = undefined
  if (last)
    void last.then((name) => onTestServer(`drop database if exists ${name} with (force)`)).catch(() => {})
})

/** A database of this run's; `drop` removes it (after whatever used it has closed). */
export interface TestDatabase {
  /** What points the app or a child process at it: DATABASE_URL, or nothing (in-memory SQLite). */
  env: Record<string, string>
  drop(): Promise<void>
}

/**
 * A fresh PostgreSQL database, migrated to latest (a copy of the template) unless `migrated` is
 * false. The caller drops it once its connections are closed (its test's last `after` step).
 */
export async function freshPostgresDatabase({
  migrated = true,
}: {
  migrated?: boolean
} = {}): Promise<TestDatabase & { url: string }> {
  const name = migrated ? await takeSpare() : await createDatabase('template0')
  const url = postgresUrl(name)
  return {
    url,
    env: { DATABASE_URL: url },
    // FORCE: a connection a test left open must not keep its database alive.
    drop: () => onTestServer(`drop database if exists ${name} with (force)`),
  }
}

/**
 * The database the app of one test uses: nothing for SQLite (the config's in-memory default), a
 * fresh PostgreSQL database (DATABASE_URL) when TEST_DATABASE=postgres.
 */
export async function testDatabase(): Promise<TestDatabase> {
  return testDialect === 'postgres' ? freshPostgresDatabase() : { env: {}, drop: async () => {} }
}

/**
 * A fresh database for one test, migrated unless `migrated` is false, on the dialect this run
 * tests (in memory for SQLite, or the file `sqlitePath`); closed (and dropped) when the test ends.
 */
export async function testDb(
  t: Pick<TestContext, 'after'>,
  { sqlitePath, migrated = true }: { sqlitePath?: string; migrated?: boolean } = {},
): Promise<Db> {
  if (testDialect === 'postgres') {
    const database = await freshPostgresDatabase({ migrated })
    const { db } = connectPostgres(database.url, { poolSize: 4 })
    t.after(async () => {
      await db.destroy()
      await database.drop()
    })
    return db
  }
  const { db } = connect(sqlitePath ?? ':memory:')
  t.after(() => db.destroy())
  if (migrated) await migrateToLatest(db)
  return db
}

/**
 * This test's database for the app and a child process (a CLI) to share: the SQLite file
 * `sqlitePath`, or a fresh PostgreSQL database. `env` points a child at it; `db` is open and
 * migrated, closed when the test ends.
 */
export async function sharedTestDatabase(
  t: Pick<TestContext, 'after'>,
  sqlitePath: string,
): Promise<{ env: Record<string, string>; db: Db }> {
  if (testDialect === 'postgres') {
    const database = await freshPostgresDatabase()
    const { db } = connectPostgres(database.url, { poolSize: 2 })
    t.after(async () => {
      await db.destroy()
      await database.drop()
    })
    return { env: database.env, db }
  }
  return { env: { DATABASE_PATH: sqlitePath }, db: await testDb(t, { sqlitePath }) }
}

/** Drops every database this run created (for scripts/test.sh after the suite). */
export async function dropRunDatabases(): Promise<void> {
  // Databases first: a role cannot go while it owns one.
  const rows = await adminPool().query<{ datname: string }>(
    'select datname from pg_database where datname like $1',
    [`${prefix.replace(/_/g, '\\_')}%`],
  )
  for (const { datname } of rows.rows) await onTestServer(`drop database if exists ${datname} with (force)`)
  const roles = await adminPool().query<{ rolname: string }>(
    'select rolname from pg_roles where rolname like $1',
    [`${prefix.replace(/_/g, '\\_')}%`],
  )
  for (const { rolname } of roles.rows) await onTestServer(`drop role if exists ${rolname}`)
}

/** Closes the connection used for CREATE/DROP DATABASE (for scripts that must exit at once). */
export async function closeTestServer(): Promise<void> {
  await admin?.end()
  admin = undefined
}

/**
 * Another process holding the write lock a sign-in needs (a purge, a backup, a long transaction):
 * SQLite's `begin immediate` on the file, or PostgreSQL's exclusive lock on the visit tables.
 * Resolves once held; call the result to let go.
 */
export async function holdWriteLock(
  t: Pick<TestContext, 'after'>,
  location: { DATABASE_URL?: string | undefined; DATABASE_PATH: string },
): Promise<() => Promise<void>> {
  if (location.DATABASE_URL) {
    const other = new pg.Client({ connectionString: location.DATABASE_URL })
    other.on('error', () => {}) // the test's database is dropped (its connections ended) at the end
    await other.connect()
    t.after(() => other.end())
    await other.query('begin')
    await other.query('lock table visit, occupancy_slot in exclusive mode')
    return async () => {
      await other.query('commit')
    }
  }
  const other = new SQLite(location.DATABASE_PATH)
  t.after(() => other.close())
  other.exec('begin immediate')
  return async () => {
    other.exec('commit')
  }
}
