import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../../server/paths.js'

/** The node flags the Procfile starts the web process with, so benchmarks run it exactly so. */
export function webNodeFlags(): string[] {
  const line = readFileSync(join(projectRoot, 'Procfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('web:'))
  const words = line?.slice('web:'.length).trim().split(/\s+/) ?? []
  if (words[0] !== 'node') throw new Error('Procfile: expected "web: node [flags] dist/server/server.js"')
  return words.slice(1, -1)
}
