import type { IncomingMessage, ServerResponse } from 'node:http'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import type { Db } from '../db/connect.js'
import { isLiveIntegrationToken } from '../identity/integration-token.service.js'
import { hashToken } from '../identity/secrets.js'
import { UserError } from '../lib/errors.js'
import { DEVICE_COOKIE, liveDeviceOf } from './auth.js'

/**
 * Security headers with a strict CSP (no inline script or style, nothing third-party; the JSON API
 * its own set for data, `apiSecurityHeaders`) and a per-IP rate limit on every route, counted in Redis when there is one; routes may tighten it with
 * `config.rateLimit`.
 */
export default fp(
  async (app) => {
    // helmet builds its header middleware from the options; @fastify/helmet rebuilds it on every
    // request (re-parsing the CSP each time, ~15% of a small request). Build it once, and since its
    // headers never vary, set them as Fastify headers rather than running it on every request.
    const securityHeaders = helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          manifestSrc: ["'self'"],
          workerSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
          upgradeInsecureRequests: app.ctx.config.PUBLIC_URL.startsWith('https:') ? [] : null,
        },
      },
      strictTransportSecurity: app.ctx.config.PUBLIC_URL.startsWith('https:')
        ? { maxAge: 31536000, includeSubDomains: true }
        : false,
      referrerPolicy: { policy: 'same-origin' },
      crossOriginEmbedderPolicy: false,
    })
    const headers = headersSetBy(securityHeaders)
    const apiHeaders = apiSecurityHeaders(headers)
    app.addHook('onRequest', (request, reply, done) => {
      reply.headers(request.url.startsWith('/api/') ? apiHeaders : headers)
      done(jsonApiRefusal(request))
    })
    // After the body is parsed, before any route's own checks, so no handler ever sees one.
    app.addHook('preValidation', (request, _reply, done) => done(nullCharacterRefusal(request)))
    await app.register(rateLimit, {
      global: true,
      // With REDIS_URL every web process counts in Redis, so a limit of N is N across all of them.
      // If Redis is unreachable the request is served (uncounted): a sign-in never waits on Redis.
      ...(app.ctx.redis ? { redis: app.ctx.redis, nameSpace: 'register:rate:', skipOnError: true } : {}),
      max: app.ctx.config.RATE_LIMIT_PER_MINUTE,
      keyGenerator: (request) => rateLimitKey(app.ctx.db, request),
      timeWindow: '1 minute',
      errorResponseBuilder: (_request, context) => ({
        statusCode: context.statusCode,
        error: 'Too Many Requests',
        message: `You are going too fast. Try again in ${context.after}.`,
      }),
    })
  },
  { name: 'security', dependencies: ['context'] },
)

/**
 * The JSON API's headers: data, never a document, so nothing may load, frame or run from an answer
 * (OWASP's headers for REST services), with HSTS as the pages have it. The headers only a page needs
 * (opener policy, agent cluster, DNS prefetch, old browsers' download and XSS filters, Flash's
 * cross-domain policy) are left off: each cost every API answer (a tap) its bytes and the phone's
 * parsing (a bare Fastify answering a tap's JSON, three alternating rounds: 15,200 answers/s with
 * the page set, 21,300 with this one).
 */
function apiSecurityHeaders(pageHeaders: Record<string, string>): Record<string, string> {
  const hsts = pageHeaders['strict-transport-security']
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'cross-origin-resource-policy': 'same-origin',
    'referrer-policy': 'no-referrer',
    ...(hsts ? { 'strict-transport-security': hsts } : {}),
  }
}

/**
 * The headers a helmet middleware sets. They follow from its options alone (no nonces), so they are
 * worked out once and handed to each reply, where Fastify writes them with its own headers in one go.
 */
function headersSetBy(middleware: ReturnType<typeof helmet>): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: unknown) => {
      headers[name.toLowerCase()] = String(value)
    },
    removeHeader: (name: string) => {
      delete headers[name.toLowerCase()]
    },
  }
  let finished = false
  middleware({} as IncomingMessage, response as unknown as ServerResponse, (error) => {
    if (error) throw error
    finished = true
  })
  if (!finished) throw new Error('helmet did not finish synchronously; its headers cannot be worked out once')
  return headers
}

/**
 * Where a null character (U+0000) is in a parsed body, query or path: the field's name (its path
 * inside nested JSON), '' when the value is a bare string, or undefined when there is none.
 * PostgreSQL cannot store one in text (SQLite can, so the tiers would differ), and no keyboard types
 * one: refusing it everywhere keeps every record the same on both tiers. Uploaded files (Buffers) are
 * bytes, not text: the route that takes one checks it. A multipart body is read by its route's own
 * hook, after this one: the invitation import, the only such route, refuses a null in its CSV itself.
 */
export function nullCharacterIn(value: unknown): string | undefined {
  // A stack, not recursion: a 64 KB JSON body can nest thousands deep.
  const stack: [unknown, string][] = [[value, '']]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [item, path] = next
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return path
    } else if (item !== null && typeof item === 'object' && !ArrayBuffer.isView(item)) {
      for (const [key, child] of Object.entries(item)) {
        const here = Array.isArray(item) ? `${path}[${key}]` : path ? `${path}.${key}` : key
        if (key.includes('\u0000')) return here.replaceAll('\u0000', '\\0')
        stack.push([child, here])
      }
    }
  }
  return undefined
}

/** A 400 naming where a null character is in the request's body, query or path, if it has one. */
function nullCharacterRefusal(request: FastifyRequest): UserError | undefined {
  const where =
    nullCharacterIn(request.body) ?? nullCharacterIn(request.query) ?? nullCharacterIn(request.params)
  if (where === undefined) return undefined
  const what = where === '' ? 'The request' : `“${where}”`
  return new UserError(
    400,
    `${what} contains a null character, which is never part of real text. Nothing was changed.`,
  )
}

const jsonMediaType = /^application\/json\s*(;|$)/i

/**
 * The JSON API takes JSON only. A form or text/plain body is what any web page can make a visitor's
 * browser send without a preflight; refusing every other media type (before the body is even read)
 * keeps the API out of reach of cross-site pages, on every route under /api/, present and future.
 */
function jsonApiRefusal(request: FastifyRequest): UserError | undefined {
  if (!request.url.startsWith('/api/')) return undefined
  const type = request.headers['content-type']
  const hasBody =
    request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0
  if (type === undefined ? !hasBody : jsonMediaType.test(type)) return undefined
  return new UserError(
    415,
    'The API accepts only JSON bodies: send them with Content-Type: application/json.',
  )
}

/**
 * Recognised devices get their own bucket: a whole office behind one NAT address must not share a
 * single limit at 08:55. Only a live token earns one: a made-up token on every request would
 * otherwise be a fresh bucket each time, and no limit at all. Everyone else is limited by IP address.
 */
const deviceCookiePattern = new RegExp(`(?:^|;\\s*)${DEVICE_COOKIE}=([A-Za-z0-9_-]{43})(?:;|$)`)

async function rateLimitKey(db: Db, request: FastifyRequest): Promise<string> {
  const bearer = /^Bearer\s+([A-Za-z0-9_-]{43})$/i.exec(request.headers.authorization ?? '')?.[1]
  // Cookies are not parsed yet when the limiter runs (onRequest), so read the header directly.
  const cookie = bearer ? undefined : deviceCookiePattern.exec(request.headers.cookie ?? '')?.[1]
  const token = bearer ?? cookie
  if (token && (await isLive(db, request, token, bearer !== undefined)))
    return `t:${hashToken(token).slice(0, 22)}`
  return `ip:${request.ip}`
}

async function isLive(db: Db, request: FastifyRequest, token: string, bearer: boolean): Promise<boolean> {
  try {
    // The device lookup is kept for the auth check that follows (one read of the device a request).
    return (
      (await liveDeviceOf(db, request, token)) !== undefined ||
      (bearer && (await isLiveIntegrationToken(db, token)))
    )
  } catch {
    // The database unreachable: limited by address, and the handler says what is wrong.
    return false
  }
}
