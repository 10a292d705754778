import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { writeXlsx } from './export.js'

test('a large XLSX export waits for the zip: memory stays flat however many rows', async () => {
  // The client reads steadily; what the zip has not compressed yet must not pile up in memory.
  let bytes = 0
  const client = new Writable({
    write(chunk: Buffer, _encoding, done) {
      bytes += chunk.length
      setImmediate(done)
    },
  })
  const baseline = process.memoryUsage().arrayBuffers
  let peak = 0
  function* rows() {
    for (let i = 0; i < 400_000; i++) {
      if (i % 10_000 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline)
      yield { id: i, name: `Person ${i}`, day: '2026-11-23' }
    }
  }
  await writeXlsx(
    rows(),
    [
      { key: 'id', header: 'Visit' },
      { key: 'name', header: 'Name' },
      { key: 'day', header: 'Date' },
    ],
    client,
    'Visits',
  )
  assert.ok(bytes > 1_000_000, `a real workbook was written (${bytes} bytes)`)
  // Unbounded, 400,000 rows held ~65 MB of uncompressed XML at once.
  assert.ok(peak < 24 * 2 ** 20, `at most ${(peak / 2 ** 20).toFixed(1)} MB waited for the zip`)
})
