import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { buildIfChanged, isBuildCurrent } from './build-if-changed.mjs'

/** A project folder with one source file and a build that writes what `npm run build` writes. */
function project(t: import('node:test').TestContext) {
  const root = mkdtempSync(join(tmpdir(), 'br-build-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'server'))
  writeFileSync(join(root, 'server', 'app.ts'), 'export const a = 1\n')
  writeFileSync(join(root, 'package.json'), '{}\n')
  const builds: string[][] = []
  const run = (cmd: string, args: string[]) => {
    builds.push([cmd, ...args])
    rmSync(join(root, 'dist'), { recursive: true, force: true })
    mkdirSync(join(root, 'dist'))
    mkdirSync(join(root, 'web', 'dist'), { recursive: true })
    writeFileSync(join(root, 'web', 'dist', 'sw.js'), '// sw\n')
    return { status: 0 }
  }
  return { root, builds, run }
}

test('builds the first time, then not again until an input changes', (t) => {
  const { root, builds, run } = project(t)
  assert.equal(buildIfChanged(root, run), true)
  assert.deepEqual(builds, [['npm', 'run', 'build', '--silent']])
  assert.equal(isBuildCurrent(root), true)

  assert.equal(buildIfChanged(root, run), false)
  assert.equal(builds.length, 1)

  writeFileSync(join(root, 'server', 'app.ts'), 'export const a = 2\n')
  assert.equal(isBuildCurrent(root), false)
  assert.equal(buildIfChanged(root, run), true)
  assert.equal(builds.length, 2)
})

test('a new file, a deleted service worker or a changed lock file makes the build stale', (t) => {
  const { root, run } = project(t)
  buildIfChanged(root, run)
  writeFileSync(join(root, 'server', 'new.ts'), 'export {}\n')
  assert.equal(isBuildCurrent(root), false)
  buildIfChanged(root, run)
  rmSync(join(root, 'web', 'dist', 'sw.js'))
  assert.equal(isBuildCurrent(root), false)
  buildIfChanged(root, run)
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3}\n')
  assert.equal(isBuildCurrent(root), false)
})

test('a failed build records nothing, so the next start builds again', (t) => {
  const { root } = project(t)
  assert.throws(() => buildIfChanged(root, () => ({ status: 2 })), /build failed/)
  process.exitCode = 0
  assert.equal(isBuildCurrent(root), false)
})
