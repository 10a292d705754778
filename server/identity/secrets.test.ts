import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newSecret } from './secrets.js'

test('newSecret hands out fresh bytes every time, across refills of its pool, at any length', () => {
  const seen = new Set<string>()
  // 18-byte secrets: ~227 to a fill of the pool, so this crosses more than ten refills.
  for (const bytes of [...Array<number>(2_500).fill(18), 16, 32, 4_000, 4_096, 5_000]) {
    const secret = newSecret(bytes)
    assert.equal(Buffer.from(secret, 'base64url').length, bytes, `${bytes} bytes`)
    assert.match(secret, /^[\w-]+$/, 'URL-safe')
    assert.ok(!seen.has(secret), `a ${bytes}-byte secret was handed out twice`)
    seen.add(secret)
  }
})
