import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ConfigError, loadConfig } from './config.js'

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

test('production refuses to start without a secret and a public URL', () => {
  assert.throws(
    () => loadConfig({ NODE_ENV: 'production', DATA_DIR: '/nonexistent' }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.problems.some((p) => p.startsWith('SESSION_SECRET')) &&
      e.problems.some((p) => p.startsWith('PUBLIC_URL')),
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
