import fastifyStatic from '@fastify/static'
import fp from 'fastify-plugin'
import { webDir } from '../paths.js'

/** Serves web/ (CSS, icons, client JS) under /static with long caching for fingerprinted files. */
export default fp(
  async (app) => {
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
