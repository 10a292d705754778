import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from '../paths.js'

/**
 * Source files (server, tasks, scripts; not tests) that load an optional package statically: any
 * `from '<scope>/…'`, or any mention of it outside `allowedFile`, where a dynamic import belongs.
 */
export function staticImportsOf(scope: string, allowedFile: string): string[] {
  const offenders: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (/\.ts$/.test(name) && !name.endsWith('.test.ts')) {
        const text = readFileSync(path, 'utf8')
        if (text.includes(`from '${scope}/`) || (text.includes(`${scope}/`) && !path.endsWith(allowedFile)))
          offenders.push(path)
      }
    }
  }
  for (const dir of ['server', 'tasks', 'scripts']) walk(join(projectRoot, dir))
  return offenders
}
