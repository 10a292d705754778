import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'

const routesDir = new URL('.', import.meta.url).pathname

test('routes reach data through domain functions, never a repository', async () => {
  const files = (await readdir(routesDir, { recursive: true })).filter(
    (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
  )
  assert.ok(files.length > 10, 'the route files are found')
  const offenders: string[] = []
  for (const file of files) {
    const source = await readFile(join(routesDir, file), 'utf8')
    // A row type may come from a repository; a query may not. (One chunk per import statement.)
    for (const statement of source.split(/^(?=import\b)/m).filter((c) => c.startsWith('import'))) {
      const from = /from\s+'([^']+\.repository\.js)'/.exec(statement)?.[1]
      if (from && !statement.startsWith('import type')) offenders.push(`${file}: ${from}`)
    }
  }
  assert.deepEqual(offenders, [])
})
