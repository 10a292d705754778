/**
 * A request target in origin form (`/path?query`). HTTP/1.1 also allows the absolute form
 * (`http://host/path?query`, RFC 9112 §3.2.2) and Node passes it on unchanged, so anything that
 * builds a URL from `request.url` (a webhook's signed URL, a redirect, "is this the API?") would see
 * a scheme and a host where it expects a path. The app rewrites every target to origin form before
 * routing; other shapes (`*`, `//x`) are left alone and end at the 404 handler.
 */
export function originForm(target: string): string {
  if (target.startsWith('/')) return target
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target)
  if (!absolute) return target
  const rest = target.slice(absolute[0].length).replace(/#.*$/, '')
  return rest.startsWith('/') ? rest : `/${rest}`
}
