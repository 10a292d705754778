import type { Eta } from 'eta'

/**
 * Makes `eta` remember the file each template name resolves to, per including template. Eta works
 * it out again (path.join, path.relative, a JSON cache key) on every render and every include, ~5%
 * of a home page's CPU; the answer depends only on the names, the views folder and the default
 * extension, never on the files, so it cannot go stale. A name outside the views folder still
 * throws, every time (only answers are remembered).
 */
export function rememberTemplatePaths<T extends Eta>(eta: T): T {
  const resolve = eta.resolvePath
  // Includer's path ('' for a page rendered directly) → template name → file.
  let resolved = new Map<string, Map<string, string>>()
  let views: unknown = eta.config.views
  let extension: unknown = eta.config.defaultExtension
  eta.resolvePath = function (template, options) {
    if (this.config.views !== views || this.config.defaultExtension !== extension) {
      resolved = new Map()
      views = this.config.views
      extension = this.config.defaultExtension
    }
    const from = options?.filepath ?? ''
    let names = resolved.get(from)
    if (names === undefined) {
      names = new Map()
      resolved.set(from, names)
    }
    let file = names.get(template)
    if (file === undefined) {
      file = resolve.call(this, template, options)
      names.set(template, file)
    }
    return file
  }
  return eta
}
