#!/usr/bin/env node
// `npm start` runs this before the server: it rebuilds (`npm run build`) only when a build input
// changed since the last build, so a start with nothing changed goes straight to the built server.
// Plain JavaScript on purpose: it runs before anything is compiled, and without dev dependencies.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Folders whose files are build inputs, and single files that are too. */
const INPUT_DIRS = ['server', 'tasks', 'scripts', 'migrations', 'web']
const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']
/** Outputs and generated folders inside the input folders, never inputs themselves. */
const SKIP = new Set(['node_modules', 'dist'])

/** Where the fingerprint of the inputs of the last successful build is kept (inside dist/, so a clean build forgets it). */
export const stampPath = (root) => join(root, 'dist', '.inputs-fingerprint')

function* inputFiles(root, dir) {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    if (SKIP.has(entry.name)) continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* inputFiles(root, path)
    else if (entry.isFile()) yield path
  }
}

/** A SHA-256 over every build input's path and content, in a stable order. */
export function inputsFingerprint(root) {
  const files = INPUT_FILES.filter((f) => existsSync(join(root, f)))
  for (const dir of INPUT_DIRS) if (existsSync(join(root, dir))) files.push(...inputFiles(root, dir))
  files.sort()
  const hash = createHash('sha256')
  for (const file of files) {
    hash.update(relative(root, join(root, file)))
    hash.update('\0')
    hash.update(readFileSync(join(root, file)))
    hash.update('\0')
  }
  return hash.digest('hex')
}

/** True when dist/ was built from exactly the inputs on disk now (and the service worker exists). */
export function isBuildCurrent(root) {
  const stamp = stampPath(root)
  if (!existsSync(stamp) || !existsSync(join(root, 'web', 'dist', 'sw.js'))) return false
  return readFileSync(stamp, 'utf8').trim() === inputsFingerprint(root)
}

/** Where `npm run build` notes, as it starts, the fingerprint of the inputs it builds from. */
const pendingPath = (root) => join(root, 'dist', '.inputs-fingerprint.building')

/**
 * Notes the inputs on disk as those a build starting now builds from (`npm run build` starts with
 * this, once dist/ is emptied): a file saved while the build runs (~45 s) may or may not be in it,
 * so it must leave the build out of date.
 */
export function beginBuild(root) {
  mkdirSync(join(root, 'dist'), { recursive: true })
  writeFileSync(pendingPath(root), `${inputsFingerprint(root)}\n`)
}

/**
 * Records that dist/ was built from the inputs beginBuild noted, or from those on disk now when the
 * build did not note any (`npm run build` ends with this).
 */
export function recordBuild(root) {
  const pending = pendingPath(root)
  if (existsSync(pending)) renameSync(pending, stampPath(root))
  else writeFileSync(stampPath(root), `${inputsFingerprint(root)}\n`)
}

/** True when the tools `npm run build` needs are installed (not on a production install). */
export const buildToolsInstalled = (root) => existsSync(join(root, 'node_modules', 'typescript'))

/**
 * Builds when out of date (the build records the inputs it built from); returns whether it built. Where the
 * build tools are not installed (a production install, e.g. a Heroku dyno after the platform's own
 * `npm run build`), it cannot build, and the build that is there is the one to run.
 */
export function buildIfChanged(
  root,
  // The build's own output goes to stderr, so that a command printing a report on stdout stays clean.
  run = (cmd, args) => spawnSync(cmd, args, { cwd: root, stdio: ['inherit', 2, 'inherit'] }),
  { canBuild = buildToolsInstalled(root) } = {},
) {
  if (isBuildCurrent(root)) return false
  if (!canBuild) {
    if (existsSync(join(root, 'dist', 'server', 'server.js'))) return false
    throw new Error('No build in dist/ and nothing to build it with: run `npm install --include=dev` first.')
  }
  // `npm run build` records the inputs it built from itself (--begin, --record).
  const result = run('npm', ['run', 'build', '--silent'])
  if (result.status !== 0) {
    process.exitCode = result.status ?? 1
    throw new Error('npm run build failed')
  }
  return true
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(fileURLToPath(import.meta.url), '..', '..')
  try {
    // `npm run build` starts with `--begin` and ends with `--record`: a start right after it has
    // nothing to build again, unless an input changed while it ran.
    if (process.argv[2] === '--begin') beginBuild(root)
    else if (process.argv[2] === '--record') recordBuild(root)
    else if (!buildIfChanged(root)) console.error('Build is up to date.')
  } catch (error) {
    console.error(error instanceof Error ? error.message : error)
    process.exit(process.exitCode || 1)
  }
}
