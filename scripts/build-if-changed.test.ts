import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { beginBuild, buildIfChanged, isBuildCurrent, recordBuild } from './build-if-changed.mjs'

/**
 * A project folder with one source file; `writeBuild` writes what `npm run build` writes and records
 * nothing, `run` runs it as package.json's `build` script does, between `--begin` and `--record`.
 */
function project(t: import('node:test').TestContext) {
  const root = mkdtempSync(join(tmpdir(), 'br-build-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  mkdirSync(join(root, 'server'))
  writeFileSync(join(root, 'server', 'app.ts'), 'export const a = 1\n')
  writeFileSync(join(root, 'package.json'), '{}\n')
  // A development install: the build tools are there.
  mkdirSync(join(root, 'node_modules', 'typescript'), { recursive: true })
  const builds: string[][] = []
  const writeBuild = () => {
    rmSync(join(root, 'dist'), { recursive: true, force: true })
    mkdirSync(join(root, 'dist'))
    mkdirSync(join(root, 'web', 'dist'), { recursive: true })
    writeFileSync(join(root, 'web', 'dist', 'sw.js'), '// sw\n')
  }
  const run = (cmd: string, args: string[]) => {
    builds.push([cmd, ...args])
    writeBuild()
    beginBuild(root)
    recordBuild(root)
    return { status: 0 }
  }
  return { root, builds, writeBuild, run }
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

test('a production install (no build tools, as on Heroku after its build) runs the build it has', (t) => {
  const { root, builds, run } = project(t)
  // A build whose fingerprint is missing (or stale), and the dev dependencies gone.
  mkdirSync(join(root, 'dist', 'server'), { recursive: true })
  writeFileSync(join(root, 'dist', 'server', 'server.js'), '// built\n')
  assert.equal(isBuildCurrent(root), false)
  assert.equal(buildIfChanged(root, run, { canBuild: false }), false)
  assert.deepEqual(builds, [], 'nothing to build with: no build is tried')
  // With no build at all there is nothing to run: that is an error, not a silent start.
  rmSync(join(root, 'dist'), { recursive: true, force: true })
  assert.throws(() => buildIfChanged(root, run, { canBuild: false }), /npm install --include=dev/)
  process.exitCode = 0
})

test('`npm run build` records what it built from, so the next `npm start` does not build it all again', (t) => {
  const build: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts
    .build
  assert.match(build, /&& node scripts\/build-if-changed\.mjs --record$/, `npm run build: ${build}`)
  // What that last step does: the build on disk is then current, until an input changes.
  const { root, writeBuild } = project(t)
  writeBuild()
  assert.equal(isBuildCurrent(root), false, 'a build that recorded nothing')
  recordBuild(root)
  assert.equal(isBuildCurrent(root), true)
  writeFileSync(join(root, 'server', 'app.ts'), 'export const a = 2\n')
  assert.equal(isBuildCurrent(root), false)
})

test('an input edited while `npm run build` runs makes the next `npm start` build again', (t) => {
  const build: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts
    .build
  // The inputs are fingerprinted once dist/ is emptied, before anything is compiled from them.
  assert.match(
    build,
    /^node -e "require\('fs'\)\.rmSync\('dist'[^"]*" && node scripts\/build-if-changed\.mjs --begin && tsc /,
    `npm run build: ${build}`,
  )
  const { root, writeBuild, run } = project(t)
  writeBuild()
  beginBuild(root)
  // Saved in the editor during the ~45 s the build takes: the build may have read it before or after.
  writeFileSync(join(root, 'server', 'app.ts'), 'export const a = 2\n')
  recordBuild(root)
  assert.equal(isBuildCurrent(root), false)
  assert.equal(buildIfChanged(root, run), true)
  assert.equal(isBuildCurrent(root), true)
})

test('the operations commands run the compiled scripts, so they work where dev dependencies are not installed', () => {
  const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts
  for (const name of [
    'migrate',
    'db:copy',
    'roles',
    'stats',
    'visits',
    'purge',
    'send-reminders',
    'auto-close',
  ]) {
    const command: string = scripts[name]
    const file = /^node scripts\/build-if-changed\.mjs && node dist\/scripts\/([\w-]+)\.js$/.exec(
      command,
    )?.[1]
    assert.ok(file, `npm run ${name}: ${command}`)
    assert.ok(existsSync(new URL(`./${file}.ts`, import.meta.url)), `scripts/${file}.ts`)
  }
})
