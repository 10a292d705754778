import { UserError } from '../lib/errors.js'

/** A first and last name as given, trimmed, with per-field messages when unusable. */
export type NameParseResult =
  | { ok: true; firstName: string; lastName: string }
  | { ok: false; errors: { firstName?: string; lastName?: string } }

// Letters of any script, marks, spaces, and the punctuation real names use (O'Brien, Jean-Luc, St. John).
const namePattern = /^[\p{L}\p{M}][\p{L}\p{M} .'’-]*$/u

function check(value: string, label: string): string | undefined {
  if (value === '') return `Enter your ${label}.`
  if (value.length > 60) return `Your ${label} must be 60 characters or fewer.`
  if (!namePattern.test(value))
    return `Your ${label} can only contain letters, spaces, hyphens and apostrophes.`
  return undefined
}

/** Validates a person's name; whitespace is trimmed and runs of spaces collapsed. */
export function parseName(first: unknown, last: unknown): NameParseResult {
  const firstName = typeof first === 'string' ? first.normalize('NFC').trim().replace(/\s+/g, ' ') : ''
  const lastName = typeof last === 'string' ? last.normalize('NFC').trim().replace(/\s+/g, ' ') : ''
  const errors = { firstName: check(firstName, 'first name'), lastName: check(lastName, 'last name') }
  if (errors.firstName || errors.lastName) return { ok: false, errors }
  return { ok: true, firstName, lastName }
}

/** Thrown when a name is needed and what was given does not do. */
export class NameError extends UserError {
  constructor(
    public readonly errors: { firstName?: string; lastName?: string },
    message = 'Please check your name.',
  ) {
    super(422, message)
  }
}
