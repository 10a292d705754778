/** One field of a request or an answer, flattened for the reference page. */
export interface FieldRow {
  name: string
  type: string
  required: boolean
  description: string
}

/** One response of an operation. */
export interface ResponseRow {
  status: string
  description: string
  contentTypes: string[]
  fields: FieldRow[]
}

/** One operation of the API, as the reference page lists it. */
export interface OperationRow {
  method: string
  path: string
  summary: string
  description: string
  tags: string[]
  bearer: boolean
  parameters: (FieldRow & { in: string })[]
  body: FieldRow[]
  responses: ResponseRow[]
}

interface Schema {
  type?: string | string[]
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  description?: string
  enum?: unknown[]
  format?: string
}

function typeOf(schema: Schema): string {
  const base = Array.isArray(schema.type) ? schema.type.join(' or ') : (schema.type ?? 'any')
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (schema.type === 'array') return `array of ${schema.items ? typeOf(schema.items) : 'any'}`
  return schema.format ? `${base} (${schema.format})` : base
}

/** The fields of an object schema, nested ones as `a.b` and array items as `a[].b`. */
export function fieldsOf(schema: Schema | undefined, prefix = ''): FieldRow[] {
  if (!schema?.properties) return []
  const rows: FieldRow[] = []
  for (const [name, child] of Object.entries(schema.properties)) {
    const full = `${prefix}${name}`
    rows.push({
      name: full,
      type: typeOf(child),
      required: schema.required?.includes(name) ?? false,
      description: child.description ?? '',
    })
    rows.push(...fieldsOf(child, `${full}.`))
    if (child.type === 'array') rows.push(...fieldsOf(child.items, `${full}[].`))
  }
  return rows
}

interface Document {
  paths?: Record<
    string,
    Record<
      string,
      {
        summary?: string
        description?: string
        tags?: string[]
        security?: unknown[]
        parameters?: { name: string; in: string; required?: boolean; description?: string; schema?: Schema }[]
        requestBody?: { content?: Record<string, { schema?: Schema }> }
        responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>
      }
    >
  >
}

/** The operations of an OpenAPI document in document order, flattened for a readable page. */
export function operationsOf(document: unknown): OperationRow[] {
  const rows: OperationRow[] = []
  for (const [path, methods] of Object.entries((document as Document).paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const body = op.requestBody?.content?.['application/json']?.schema
      rows.push({
        method: method.toUpperCase(),
        path,
        summary: op.summary ?? '',
        description: op.description ?? '',
        tags: op.tags ?? [],
        bearer: (op.security?.length ?? 0) > 0,
        parameters: (op.parameters ?? []).map((p) => ({
          name: p.name,
          in: p.in,
          type: p.schema ? typeOf(p.schema) : 'string',
          required: p.required ?? false,
          description: p.description ?? p.schema?.description ?? '',
        })),
        body: fieldsOf(body),
        responses: Object.entries(op.responses ?? {}).map(([status, r]) => ({
          status,
          description: r.description ?? '',
          contentTypes: Object.keys(r.content ?? {}),
          fields: fieldsOf(r.content?.['application/json']?.schema),
        })),
      })
    }
  }
  return rows
}
