import { isDeepStrictEqual } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { API_PREFIX } from '../plugins/openapi.js'

/** One answer of the API as a client saw it. */
export interface ApiExchange {
  method: string
  /** The route's pattern, e.g. /api/v1/me. */
  route: string
  status: number
  contentType: string
  body: string
  /** What the handler returned, before the serialiser (undefined for streams and bytes). */
  presented?: unknown
}

const presentedKey = Symbol('presented')
type Tagged = FastifyRequest & { [presentedKey]?: unknown }

/**
 * Records every /api/v1 answer of an app, with what its handler returned, for checkApiExchanges.
 * Added by buildTestApp before the routes, so every API test checks the document for free.
 */
export function recordApiExchanges(app: FastifyInstance): ApiExchange[] {
  const seen: ApiExchange[] = []
  const isApi = (request: FastifyRequest) => {
    const route = request.routeOptions.url
    return route?.startsWith(`${API_PREFIX}/`) && route !== `${API_PREFIX}/openapi.json`
  }
  app.addHook('preSerialization', async (request, _reply, payload) => {
    if (isApi(request)) (request as Tagged)[presentedKey] = payload
    return payload
  })
  app.addHook('onSend', async (request, reply, payload) => {
    if (!isApi(request)) return payload
    seen.push({
      method: request.method,
      route: request.routeOptions.url!,
      status: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? ''),
      // Streams (the visits export) are checked by the serialiser-free path below: not read here.
      body:
        typeof payload === 'string'
          ? payload
          : Buffer.isBuffer(payload)
            ? decoded(payload, reply.getHeader('content-encoding'))
            : '',
      presented: (request as Tagged)[presentedKey],
    })
    return payload
  })
  return seen
}

/** Bytes as the client reads them, after undoing a gzip the route applied itself (presence). */
function decoded(bytes: Buffer, encoding: unknown): string {
  return (encoding === 'gzip' ? gunzipSync(bytes) : bytes).toString()
}

const validators = new Map<string, (pointer: string) => ValidateFunction>()

/** Ajv over the whole document, so $refs into components resolve; compiled once per document. */
function validatorFor(document: unknown): (pointer: string) => ValidateFunction {
  const key = JSON.stringify(document)
  let get = validators.get(key)
  if (!get) {
    const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false })
    addFormats.default(ajv)
    ajv.addSchema(document as object, 'openapi.json')
    const compiled = new Map<string, ValidateFunction>()
    get = (pointer: string) => {
      let fn = compiled.get(pointer)
      if (!fn) {
        fn = ajv.compile({ $ref: `openapi.json#${pointer}` })
        compiled.set(pointer, fn)
      }
      return fn
    }
    validators.set(key, get)
  }
  return get
}

const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1')

interface ResponseObject {
  content?: Record<string, { schema?: unknown }>
}
interface OpenApiDocument {
  paths?: Record<string, Record<string, { responses?: Record<string, ResponseObject> }>>
}

/**
 * Problems with the recorded answers: an answer whose status or content type the document does not
 * declare, a body that does not validate against its schema, or a field the serialiser dropped.
 */
export function checkApiExchanges(document: unknown, exchanges: ApiExchange[]): string[] {
  const problems: string[] = []
  const doc = document as OpenApiDocument
  const validator = validatorFor(document)
  for (const x of exchanges) {
    const path = x.route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
    const method = x.method.toLowerCase()
    const where = `${x.method} ${x.route} → ${x.status}`
    const operation = doc.paths?.[path]?.[method === 'head' ? 'get' : method]
    if (!operation) {
      problems.push(`${where}: the route is not in the OpenAPI document (declare a schema)`)
      continue
    }
    const responses = operation.responses ?? {}
    const code = [String(x.status), `${String(x.status)[0]}XX`, 'default'].find((c) => responses[c])
    if (!code) {
      problems.push(`${where}: status not declared in the route's response schema`)
      continue
    }
    const declared = responses[code]!
    if (x.presented !== undefined && x.body) {
      const before = JSON.parse(JSON.stringify(x.presented)) as unknown
      const after = JSON.parse(x.body) as unknown
      if (!isDeepStrictEqual(before, after)) {
        problems.push(
          `${where}: the response schema changed the answer (a field missing from the schema is dropped): handler gave ${JSON.stringify(before)}, client got ${x.body}`,
        )
      }
    }
    if (!x.body || method === 'head') {
      if (x.body && declared.content === undefined) problems.push(`${where}: a body where none is declared`)
      continue
    }
    const mediaType = x.contentType.split(';')[0]!.trim()
    if (!declared.content?.[mediaType]) {
      problems.push(`${where}: content type ${mediaType} not declared`)
      continue
    }
    if (mediaType !== 'application/json') continue
    const pointer = `/paths/${escapePointer(path)}/${method}/responses/${code}/content/${escapePointer(mediaType)}/schema`
    const validate = validator(pointer)
    if (!validate(JSON.parse(x.body))) {
      problems.push(
        `${where}: ${x.body.slice(0, 300)} does not match the document: ${JSON.stringify(validate.errors)}`,
      )
    }
  }
  return problems
}
