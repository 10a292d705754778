import { constants } from 'node:zlib'
import compress from '@fastify/compress'
import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import { webDir } from '../paths.js'
import { type StaticAssets, staticAssets } from '../pwa/assets.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Fingerprinted /static/ URLs for pages to link to (cached for a year by browsers). */
    assets: StaticAssets
  }
}

/** A fingerprinted file never changes under its URL; anything else is revalidated on each use. */
const IMMUTABLE = 'public, max-age=31536000, immutable'

/**
 * Compresses text responses (pages, CSS, JS, JSON; never server-sent events) and serves web/
 * (CSS, icons, client JS) under /static. Compression is registered first so static files get it.
 * Pages link to `/static/<file>?v=<content hash>` (app.assets.url): such an answer is cached for a
 * year, immutable; a request without the current hash (the service worker's, an old page's) is
 * answered `no-cache`, so the browser revalidates it with its ETag.
 */
export default fp(
  async (app) => {
    await app.register(compress, {
      threshold: 1024,
      encodings: ['br', 'gzip'],
      // Brotli's default (quality 11) costs far too much CPU for pages rendered per request.
      brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } },
    })
    const assets = staticAssets(webDir, { recheck: app.ctx.config.NODE_ENV !== 'production' })
    app.decorate('assets', assets)
    await app.register(async (files) => {
      files.addHook('onSend', async (request, reply) => {
        if (reply.statusCode !== 200 && reply.statusCode !== 304) return
        const file = request.url.slice('/static/'.length).split('?')[0]!
        const version = (request.query as Record<string, unknown> | undefined)?.v
        reply.header(
          'cache-control',
          assets.isCurrent(decodeURIComponent(file), version) ? IMMUTABLE : 'no-cache',
        )
      })
      await files.register(fastifyStatic, {
        root: webDir,
        prefix: '/static/',
        allowedPath: (path) => !path.includes('..') && !/\.(ts|md)$/.test(path),
        cacheControl: false,
        preCompressed: false,
      })
    })
  },
  { name: 'static', dependencies: ['context'] },
)
