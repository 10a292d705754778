import { constants } from 'node:zlib'
import compress from '@fastify/compress'
import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import { webDir } from '../paths.js'

/**
 * Compresses text responses (pages, CSS, JS, JSON; never server-sent events) and serves web/
 * (CSS, icons, client JS) under /static. Compression is registered first so static files get it.
 */
export default fp(
  async (app) => {
    await app.register(compress, {
      threshold: 1024,
      encodings: ['br', 'gzip'],
      // Brotli's default (quality 11) costs far too much CPU for pages rendered per request.
      brotliOptions: { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } },
    })
    await app.register(fastifyStatic, {
      root: webDir,
      prefix: '/static/',
      allowedPath: (path) => !path.includes('..') && !/\.(ts|md)$/.test(path),
      maxAge: '1h',
      preCompressed: false,
    })
  },
  { name: 'static', dependencies: ['context'] },
)
