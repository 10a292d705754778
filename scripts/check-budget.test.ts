import assert from 'node:assert/strict'
import { test } from 'node:test'
import { measureHomePage } from './check-budget.js'

test('the home page first load stays within the page-weight budget, with no third-party or blocking scripts', async () => {
  const report = await measureHomePage()
  const urls = report.files.map((f) => f.url)
  for (const expected of ['/', '/static/app.css', '/static/app.js', '/sw.js', '/manifest.webmanifest']) {
    assert.ok(urls.includes(expected), `measured ${expected}`)
  }
  assert.ok(
    urls.some((u) => u.endsWith('.png')),
    'icons are counted',
  )
  const page = report.files.find((f) => f.url === '/')!
  assert.notEqual(page.encoding, 'identity', 'text is sent compressed')
  assert.ok(report.totalTransferred <= 50 * 1024, `${report.totalTransferred} bytes`)
  assert.deepEqual(report.problems, [])
})
