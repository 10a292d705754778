import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot(start: string): string {
  let dir = start
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir)
    if (parent === dir) throw new Error(`package.json not found above ${start}`)
    dir = parent
  }
  return dir
}

/** The project folder (holding package.json), whether we run from source or from dist/. */
export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)))

/** Where Eta templates live; they are read from source in every mode. */
export const viewsDir = join(projectRoot, 'server', 'views')

/** Static web assets: the hand-written sources and the build output (service worker, hashed files). */
export const webDir = join(projectRoot, 'web')
