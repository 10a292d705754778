import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { ConfigError, configSchema, loadConfig } from './config.js'
import { projectRoot } from './paths.js'

test('the embedded default generates a session secret once and keeps it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'br-config-'))
  const first = loadConfig({ DATA_DIR: dir })
  const second = loadConfig({ DATA_DIR: dir })
  assert.equal(first.SESSION_SECRET, second.SESSION_SECRET)
  assert.ok(first.SESSION_SECRET.length >= 43)
  assert.equal(readFileSync(join(dir, 'session-secret'), 'utf8').trim(), first.SESSION_SECRET)
  assert.equal(statSync(join(dir, 'session-secret')).mode & 0o777, 0o600)
  assert.equal(first.DATABASE_PATH, join(dir, 'register.db'))
  assert.equal(first.TIME_ZONE, 'Europe/London')
  assert.equal(first.DEFAULT_PHONE_REGION, 'GB')
})

test('processes starting at once on a fresh data folder (a web process and a worker) all start, with the same secret and keys', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'br-config-'))
  const script = `
    const { loadConfig } = await import(${JSON.stringify(join(projectRoot, 'server/config.ts'))})
    const c = loadConfig({ DATA_DIR: ${JSON.stringify(dir)} })
    console.log(JSON.stringify([c.SESSION_SECRET, c.VAPID_PUBLIC_KEY, c.VAPID_PRIVATE_KEY]))`
  const started = await Promise.allSettled(
    Array.from({ length: 8 }, () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        cwd: projectRoot,
      }),
    ),
  )
  const failures = started.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []))
  assert.deepEqual(failures, [], 'every process started')
  const seen = new Set(started.map((s) => (s.status === 'fulfilled' ? s.value.stdout.trim() : '')))
  assert.equal(seen.size, 1, 'one secret and one key pair for all')
  const [secret, publicKey] = JSON.parse([...seen][0]!) as string[]
  assert.equal(readFileSync(join(dir, 'session-secret'), 'utf8').trim(), secret)
  assert.equal(JSON.parse(readFileSync(join(dir, 'vapid-keys.json'), 'utf8')).publicKey, publicKey)
  assert.deepEqual(readdirSync(dir).sort(), ['session-secret', 'vapid-keys.json'], 'no temporary file left')
})

test('production refuses to start without a secret and a public URL', () => {
  assert.throws(
    () => loadConfig({ NODE_ENV: 'production', DATA_DIR: '/nonexistent' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.some((p) => p.startsWith('SESSION_SECRET')) &&
      e.problems.some((p) => p.startsWith('PUBLIC_URL')),
  )
})

test('production with Redis or a database server (several processes) refuses to start without Web Push keys, and writes no secret to disk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'br-config-'))
  const base = {
    NODE_ENV: 'production',
    DATA_DIR: dir,
    SESSION_SECRET: 'production-secret-production-secret-0123456789',
    PUBLIC_URL: 'https://register.example.org',
  }
  for (const extra of [
    { REDIS_URL: 'rediss://h:p@example.org:6380' },
    { DATABASE_URL: 'postgres://x@db/register' },
  ]) {
    assert.throws(
      () => loadConfig({ ...base, ...extra }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some((p) => /^VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: required in production/.test(p)),
    )
  }
  const keys = {
    VAPID_PUBLIC_KEY: `B${'A'.repeat(86)}`,
    VAPID_PRIVATE_KEY: 'A'.repeat(43),
  }
  const config = loadConfig({ ...base, REDIS_URL: 'rediss://h:p@example.org:6380', ...keys })
  assert.equal(config.VAPID_PUBLIC_KEY, keys.VAPID_PUBLIC_KEY)
  assert.deepEqual(readdirSync(dir), [], 'nothing written to the local disk')
})

test('an empty DATABASE_URL (the Procfile with no database add-on) means the SQLite file', () => {
  assert.equal(
    loadConfig({ DATA_DIR: mkdtempSync(join(tmpdir(), 'br-cfg-')), DATABASE_URL: '' }).DATABASE_URL,
    undefined,
  )
})

test('DATABASE_PREPARED_STATEMENTS: named statements on PostgreSQL unless a pooling proxy forbids them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'br-cfg-'))
  assert.equal(loadConfig({ DATA_DIR: dir }).DATABASE_PREPARED_STATEMENTS, true)
  assert.equal(
    loadConfig({ DATA_DIR: dir, DATABASE_PREPARED_STATEMENTS: 'false' }).DATABASE_PREPARED_STATEMENTS,
    false,
  )
  assert.throws(
    () => loadConfig({ DATA_DIR: dir, DATABASE_PREPARED_STATEMENTS: 'sometimes' }),
    /DATABASE_PREPARED_STATEMENTS/,
  )
})

test('an sslmode PostgreSQL does not know (PGSSLMODE, or in a database URL) stops the app instead of connecting without TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'br-cfg-'))
  const url = 'postgres://app@db.example.org/register'
  for (const mode of ['disable', 'allow', 'prefer', 'require', 'no-verify', 'verify-ca', 'verify-full', ''])
    assert.doesNotThrow(() => loadConfig({ DATA_DIR: dir, DATABASE_URL: url, PGSSLMODE: mode }), mode)
  assert.doesNotThrow(() => loadConfig({ DATA_DIR: dir, DATABASE_URL: `${url}?sslmode=verify-full` }))
  const problems = (env: NodeJS.ProcessEnv) => {
    try {
      loadConfig({ DATA_DIR: dir, ...env })
    } catch (e) {
      if (e instanceof ConfigError) return e.problems.join('\n')
      throw e
    }
    return ''
  }
  // A typo used to mean no TLS at all: refused by Heroku Postgres with a puzzling pg_hba error,
  // or quietly unencrypted elsewhere.
  assert.match(problems({ DATABASE_URL: url, PGSSLMODE: 'required' }), /^PGSSLMODE: .*no-verify/m)
  assert.match(
    problems({ DATABASE_URL: `${url}?sslmode=requre` }),
    /^DATABASE_URL: sslmode=requre .*verify-full/m,
  )
  assert.match(
    problems({ DATABASE_URL: url, MIGRATION_DATABASE_URL: `${url}?sslmode=on` }),
    /^MIGRATION_DATABASE_URL: sslmode=on /m,
  )
})

test('invalid settings are all listed with how to fix them', () => {
  assert.throws(
    () =>
      loadConfig({
        TIME_ZONE: 'Mars/Olympus',
        DEFAULT_PHONE_REGION: 'XX',
        PORT: 'eighty',
        SESSION_SECRET: 'short',
        TRUST_PROXY: 'sometimes',
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError)
      const text = e.problems.join('\n')
      for (const name of ['TIME_ZONE', 'DEFAULT_PHONE_REGION', 'PORT', 'SESSION_SECRET', 'TRUST_PROXY'])
        assert.match(text, new RegExp(name))
      assert.match(text, /IANA time zone/)
      return true
    },
  )
})

test('TRUST_PROXY accepts booleans, hop counts and address lists', () => {
  const base = { SESSION_SECRET: 'x'.repeat(40), DATA_DIR: tmpdir() }
  assert.equal(loadConfig({ ...base, TRUST_PROXY: 'true' }).TRUST_PROXY, true)
  assert.equal(loadConfig({ ...base, TRUST_PROXY: '2' }).TRUST_PROXY, 2)
  assert.deepEqual(loadConfig({ ...base, TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY, [
    '10.0.0.0/8',
    '127.0.0.1',
  ])
  assert.equal(loadConfig(base).TRUST_PROXY, false)
})

test('app.json lists every setting the config schema accepts, and README documents each', () => {
  const app = JSON.parse(readFileSync(join(projectRoot, 'app.json'), 'utf8')) as {
    env: Record<string, unknown>
  }
  const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8')
  const settings = Object.keys(configSchema.shape)
  assert.deepEqual(
    settings.filter((name) => !(name in app.env)),
    [],
    'missing from app.json',
  )
  assert.deepEqual(
    settings.filter((name) => !readme.includes(`\`${name}\``)),
    [],
    'missing from README',
  )
})
