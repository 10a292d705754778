import { UserError } from '../lib/errors.js'

/** A first and last name as given, trimmed, with per-field messages when unusable. */
export type NameParseResult =
  | { ok: true; firstName: string; lastName: string }
  | { ok: false; errors: { firstName?: string; lastName?: string } }

/** The longest first or last name, in characters. */
export const NAME_MAX_LENGTH = 60

// What real names contain: letters and marks of any script, digits (Henry 8th, 2nd), spaces, and the
// punctuation people write in names: O'Brien, O’Connor, Jean-Luc (any hyphen, the non-breaking one
// too), St. John, "Tanaka (Ken)", "Smith, Jr.". Nothing else: no control or invisible characters, no
// symbols, no markup.
const allowed = /^[\p{L}\p{M}\p{N} .,'’‘()\-\u2010\u2011]+$/u
const hasLetter = /\p{L}/u

function check(value: string, label: string): string | undefined {
  if (value === '') return `Enter your ${label}.`
  if ([...value].length > NAME_MAX_LENGTH)
    return `Your ${label} must be ${NAME_MAX_LENGTH} characters or fewer (this is ${[...value].length}).`
  if (!allowed.test(value) || !hasLetter.test(value))
    return `Your ${label} can contain letters, numbers, spaces, hyphens, apostrophes, full stops, commas and brackets.`
  return undefined
}

/** A name field as typed: NFC, trimmed, any run of spaces (non-breaking ones too) made one space. */
function tidy(value: unknown): string {
  return typeof value === 'string'
    ? value
        .normalize('NFC')
        .replace(/[\s\u00a0]+/g, ' ')
        .trim()
    : ''
}

/** Validates a person's name; whitespace is trimmed and runs of spaces collapsed. */
export function parseName(first: unknown, last: unknown): NameParseResult {
  const firstName = tidy(first)
  const lastName = tidy(last)
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

/**
 * A name from what another system says (an ID token, a directory): given and family names, else a
 * full name split at its last space, else `fallback`. What our rules refuse is kept as given
 * (trimmed to 60 characters): the person can correct it, and a sign-in is not refused over it.
 */
export function nameFromElsewhere(
  given: string,
  family: string,
  full: string,
  fallback: string,
): { firstName: string; lastName: string } {
  let first = given.trim()
  let last = family.trim()
  if (!first && !last) {
    const words = full.trim().split(/\s+/).filter(Boolean)
    first = words.slice(0, -1).join(' ') || (words[0] ?? '')
    last = words.length > 1 ? words.at(-1)! : ''
  }
  const parsed = parseName(first, last)
  if (parsed.ok) return parsed
  return { firstName: (first || fallback || 'Colleague').slice(0, 60), lastName: last.slice(0, 60) }
}
