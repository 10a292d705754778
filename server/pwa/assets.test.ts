import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { staticAssets } from './assets.js'

/** A web folder of `files` (path → content), removed when the test ends. */
function webFolder(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'br-web-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

const fingerprint = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 12)

test('each file gets its own fingerprinted URL, however often and however it is asked for', (t) => {
  const files = { 'app.css': 'body { color: red }', 'app.js': 'console.log(1)', 'icons/a.png': 'png' }
  const root = webFolder(t, files)
  for (const recheck of [false, true]) {
    const assets = staticAssets(root, { recheck })
    for (let round = 0; round < 3; round++) {
      for (const [file, text] of Object.entries(files)) {
        const expected = `/static/${file}?v=${fingerprint(text)}`
        for (const asked of [file, `/${file}`, `static/${file}`, `/static/${file}`]) {
          assert.equal(assets.url(asked), expected, `${asked}, round ${round}, recheck ${recheck}`)
        }
        assert.equal(assets.isCurrent(file, fingerprint(text)), true, file)
      }
    }
    assert.throws(() => assets.url('missing.js'), /no file web\/missing\.js/)
    assert.throws(() => assets.url('missing.js'), /no file web\/missing\.js/, 'still missing')
  }
})

test('an edited file gets a new URL where files may change (development), never in production', (t) => {
  const root = webFolder(t, { 'app.css': 'old' })
  const production = staticAssets(root, { recheck: false })
  const development = staticAssets(root, { recheck: true })
  const before = production.url('/static/app.css')
  assert.equal(development.url('/static/app.css'), before)
  writeFileSync(join(root, 'app.css'), 'new')
  utimesSync(join(root, 'app.css'), new Date(), new Date(Date.now() + 5_000))
  assert.equal(development.url('/static/app.css'), `/static/app.css?v=${fingerprint('new')}`)
  assert.equal(production.url('/static/app.css'), before, 'production hashes each file once')
})
