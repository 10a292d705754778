import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { test } from 'node:test'
import { projectRoot } from '../server/paths.js'

/** Every project file a module reaches through its relative imports (static and dynamic). */
function reachable(entry: string): Set<string> {
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const source = readFileSync(file, 'utf8')
    for (const match of source.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), match[1]!.replace(/\.js$/, '.ts'))
      if (existsSync(target)) visit(target)
    }
  }
  visit(resolve(projectRoot, entry))
  return new Set([...seen].map((f) => relative(projectRoot, f)))
}

test('the worker and the task commands build their context without the web app or its plugins', () => {
  for (const entry of [
    'tasks/worker.ts',
    'scripts/task-cli.ts',
    'scripts/send-reminders.ts',
    'scripts/auto-close.ts',
    'scripts/purge.ts',
    'scripts/migrate.ts',
  ]) {
    const files = reachable(entry)
    assert.ok(
      files.has(join('server', 'context.ts')) || entry === 'scripts/migrate.ts',
      `${entry} builds the context`,
    )
    const web = [...files].filter(
      (f) => f === join('server', 'app.ts') || f.startsWith(join('server', 'plugins')),
    )
    assert.deepEqual(web, [], `${entry} imports no web app`)
  }
})
