import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { connect } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { insertDevice } from '../identity/device.repository.js'
import { UserError } from '../lib/errors.js'
import { makePerson } from '../testing/factories.js'
import { IDEMPOTENCY_ABANDON_MS, idempotent, requestHash } from './idempotency.js'

const tapRequest = { method: 'POST', path: '/api/v1/sign-in', body: {} }

/** Two connections to one database file, as two web processes have. */
async function twoProcesses(t: import('node:test').TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'register-idem-'))
  const a = connect(join(dir, 'register.db')).db
  const b = connect(join(dir, 'register.db')).db
  t.after(async () => {
    await a.destroy()
    await b.destroy()
    rmSync(dir, { recursive: true, force: true })
  })
  await migrateToLatest(a)
  const personId = await makePerson(a, { firstName: 'Ada', lastName: 'L', email: 'ada@example.org' })
  const device = await insertDevice(a, {
    personId,
    kind: 'api',
    tokenHash: 'h'.repeat(43),
    name: 'phone',
    userAgent: 'test',
    at: 0,
  })
  return { a, b, deviceId: device.id }
}

test('two concurrent requests with one Idempotency-Key on two processes: one runs, the other is told to retry (409), then gets the first answer', async (t) => {
  const { a, b, deviceId } = await twoProcesses(t)
  let runs = 0
  let finish!: () => void
  const held = new Promise<void>((resolve) => {
    finish = resolve
  })
  const request = { deviceId, key: 'tap-1', at: 1_000_000, request: tapRequest }
  const first = idempotent(a, request, async () => {
    runs++
    await held
    return { changed: true }
  })
  // The first request has claimed the key (its run is waiting on `held`) before the second arrives.
  while (runs === 0) await new Promise((resolve) => setImmediate(resolve))
  const second = await idempotent(b, request, async () => {
    runs++
    return { changed: false }
  }).catch((error: unknown) => error)
  assert.ok(second instanceof UserError)
  assert.equal(second.statusCode, 409)
  assert.equal(second.headers['retry-after'], '1')
  finish()
  assert.deepEqual(await first, { changed: true })
  const retried = await idempotent(b, request, async () => {
    runs++
    return { changed: false }
  })
  assert.deepEqual(retried, { changed: true }, 'the retry gets the first answer')
  assert.equal(runs, 1, 'the work ran once')
})

test('a claim whose request failed is released; one left running by a dead process is taken over later', async (t) => {
  const { a, b, deviceId } = await twoProcesses(t)
  const failing = idempotent(a, { deviceId, key: 'k', at: 0, request: tapRequest }, async () => {
    throw new Error('database went away')
  })
  await assert.rejects(failing, /went away/)
  assert.deepEqual(
    await idempotent(b, { deviceId, key: 'k', at: 1, request: tapRequest }, async () => 'ran'),
    'ran',
  )

  // A process killed mid-request leaves its claim running: retries wait, then take it over.
  await a
    .insertInto('idempotency_key')
    .values({
      device_id: deviceId,
      key: 'orphan',
      response: '',
      request_hash: requestHash(tapRequest),
      created_at: 10_000,
    })
    .execute()
  const soon = await idempotent(
    b,
    { deviceId, key: 'orphan', at: 10_000 + 1000, request: tapRequest },
    async () => 'x',
  ).catch((error: unknown) => error)
  assert.equal((soon as UserError).statusCode, 409)
  const later = await idempotent(
    b,
    { deviceId, key: 'orphan', at: 10_000 + IDEMPOTENCY_ABANDON_MS + 1, request: tapRequest },
    async () => 'taken over',
  )
  assert.equal(later, 'taken over')
})
