import type { FastifyError } from 'fastify'

type ValidationIssue = NonNullable<FastifyError['validation']>[number]

function fieldName(issue: ValidationIssue): string {
  const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.')
  const missing = (issue.params as { missingProperty?: string }).missingProperty
  return missing ?? (path || 'the request')
}

/** Turns one schema validation issue into a sentence a person can act on. */
function describe(issue: ValidationIssue): string {
  const field = `“${fieldName(issue)}”`
  const params = issue.params as Record<string, unknown>
  switch (issue.keyword) {
    case 'required':
      return `${field} is missing.`
    case 'type':
      return `${field} must be ${params.type === 'string' ? 'text' : `a ${String(params.type)}`}.`
    case 'maxLength':
      return `${field} is too long (at most ${String(params.limit)} characters).`
    case 'minLength':
      return `${field} is too short.`
    case 'pattern':
    case 'format':
      return `${field} is not in the expected format.`
    case 'additionalProperties':
      return `“${String(params.additionalProperty)}” is not expected here.`
    case 'enum':
      return `${field} must be one of: ${(params.allowedValues as unknown[]).join(', ')}.`
    case 'minimum':
    case 'maximum':
      return `${field} is out of range.`
    default:
      return `${field} is not valid.`
  }
}

const messagesByCode: Record<string, string> = {
  FST_CSRF_INVALID_TOKEN:
    'This form has expired or was sent from another site. Reload the page and try again.',
  FST_CSRF_MISSING_SECRET: 'This form has expired. Reload the page and try again.',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Send the request as JSON or as a form.',
  FST_ERR_CTP_BODY_TOO_LARGE: 'That request is too large.',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request says it is JSON but has no body.',
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON.',
  FST_ERR_BAD_URL: 'That address is not valid.',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'The request body does not match its Content-Length.',
}

/** A human message for a 4xx error, whatever raised it (our code, a schema, a plugin). */
export function clientMessage(error: FastifyError): string {
  if (error.validation?.length) return `Please check the request: ${error.validation.map(describe).join(' ')}`
  if (error.code && messagesByCode[error.code]) return messagesByCode[error.code]!
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError) {
    return 'The request body is not valid JSON.'
  }
  return error.message || 'That request could not be handled.'
}

/**
 * PostgreSQL's "try again" errors: serialization failure, deadlock (one side is rolled back), lock
 * not available (lock_timeout), statement timeout (also raised by a cancelled query).
 */
const POSTGRES_RETRYABLE = new Set(['40001', '40P01', '55P03', '57014'])

/**
 * True when the database could not do it right now but will in a moment: SQLite's "database is
 * locked" (SQLITE_BUSY and its extended codes), or a PostgreSQL error that means "try again".
 * Nothing was changed: the transaction was rolled back.
 */
export function isDatabaseBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return false
  return code.startsWith('SQLITE_BUSY') || POSTGRES_RETRYABLE.has(code)
}

/**
 * True when the database refused a write because a row broke a CHECK constraint: SQLite's
 * SQLITE_CONSTRAINT_CHECK, PostgreSQL's check_violation (23514). By code, not by message: the
 * two word it differently ("CHECK constraint failed", "violates check constraint").
 */
export function isCheckViolation(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'SQLITE_CONSTRAINT_CHECK' || code === '23514'
}
