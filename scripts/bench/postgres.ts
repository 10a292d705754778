import { spawn, spawnSync } from 'node:child_process'
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/** A PostgreSQL server for the benchmark: fresh databases on it, all dropped (and a throwaway server stopped) by `close`. */
export interface BenchPostgres {
  /** Creates an empty database; returns its URL. */
  newDatabase(): Promise<string>
  /** Where it runs, for the table's notes. */
  where: string
  close(): Promise<void>
}

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres'

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query('select 1')
    return true
  } catch {
    return false
  } finally {
    await client.end().catch(() => {})
  }
}

function pgBin(): string {
  const found = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' }).stdout.trim()
  if (found) return join(found, '..')
  const versions = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b))
  if (versions.length === 0) throw new Error('PostgreSQL is not installed: apt-get install -y postgresql')
  return `/usr/lib/postgresql/${versions.at(-1)}/bin`
}

/**
 * The server on 127.0.0.1:5432 (trust, user postgres) when it answers, else a throwaway one
 * (initdb + pg_ctl on a free port in a temporary folder, default durability: commits wait for the
 * disk), as scripts/test.sh does; in both, fresh databases of its own, dropped by `close`.
 */
export async function benchPostgres(port: number): Promise<BenchPostgres> {
  let server = LOCAL
  let stop = async () => {}
  let where = '127.0.0.1:5432'
  if (!(await answers(LOCAL))) {
    const bin = pgBin()
    const dir = mkdtempSync(join(tmpdir(), 'br-bench-pg-'))
    // initdb refuses to run as root: the server runs as the postgres user, in a folder it owns.
    const asOwner = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : []
    if (asOwner.length > 0) chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout), 0)
    const run = (args: string[]) => {
      const [cmd, ...rest] = [...asOwner, ...args]
      const result = spawnSync(cmd!, rest, { stdio: ['ignore', 'ignore', 'inherit'] })
      if (result.status !== 0) throw new Error(`${args[0]} failed`)
    }
    run([join(bin, 'initdb'), '-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8'])
    run([
      join(bin, 'pg_ctl'),
      '-D',
      join(dir, 'data'),
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-s',
      'start',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
    ])
    server = `postgres://postgres@127.0.0.1:${port}/postgres`
    where = `throwaway server on :${port}`
    stop = async () => {
      spawn(asOwner[0] ?? join(bin, 'pg_ctl'), [
        ...asOwner.slice(1),
        ...(asOwner.length ? [join(bin, 'pg_ctl')] : []),
        '-D',
        join(dir, 'data'),
        '-m',
        'immediate',
        'stop',
      ]).once('exit', () => rmSync(dir, { recursive: true, force: true }))
    }
  }
  const admin = new pg.Client({ connectionString: server })
  await admin.connect()
  const names: string[] = []
  return {
    where,
    newDatabase: async () => {
      const name = `br_bench_${process.pid}_${names.length}`
      names.push(name)
      await admin.query(`drop database if exists ${name} with (force)`)
      await admin.query(`create database ${name}`)
      const url = new URL(server)
      url.pathname = `/${name}`
      return url.toString()
    },
    close: async () => {
      for (const name of names) await admin.query(`drop database if exists ${name} with (force)`).catch(() => {})
      await admin.end()
      await stop()
    },
  }
}
