import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Fingerprinted URLs of the files in web/, served under /static/. */
export interface StaticAssets {
  /** `/static/<file>?v=<content hash>`: a URL that changes whenever the file does. */
  url(file: string): string
  /** Whether `version` is the file's current fingerprint (then the answer may be cached for a year). */
  isCurrent(file: string, version: unknown): boolean
}

/**
 * Content fingerprints of web/'s files, worked out on first use. In production a file never changes
 * under a running process, so each is hashed once; elsewhere (development, tests) a changed
 * modification time hashes it again, so an edited stylesheet shows up on the next page.
 */
export function staticAssets(root: string, options: { recheck: boolean }): StaticAssets {
  const known = new Map<string, { mtimeMs: number; version: string }>()
  const versionOf = (file: string): string | undefined => {
    const cached = known.get(file)
    if (cached && !options.recheck) return cached.version
    const path = join(root, file)
    let mtimeMs: number
    try {
      mtimeMs = statSync(path).mtimeMs
    } catch {
      return undefined
    }
    if (cached && cached.mtimeMs === mtimeMs) return cached.version
    const version = createHash('sha256').update(readFileSync(path)).digest('base64url').slice(0, 12)
    known.set(file, { mtimeMs, version })
    return version
  }
  // Each URL as pages ask for it, once its file's fingerprint is final (production): a page links
  // to five, and working each out again was ~3% of a home page's CPU.
  const urls = new Map<string, string>()
  return {
    url(file) {
      const remembered = urls.get(file)
      if (remembered !== undefined) return remembered
      const name = file.replace(/^\/?(static\/)?/, '')
      const version = versionOf(name)
      if (!version) throw new Error(`no file web/${name} to link to`)
      const url = `/static/${name}?v=${version}`
      if (!options.recheck) urls.set(file, url)
      return url
    },
    isCurrent(file, version) {
      return typeof version === 'string' && version.length > 0 && versionOf(file) === version
    },
  }
}
