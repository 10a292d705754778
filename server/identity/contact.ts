import type { CountryCode } from 'libphonenumber-js/max'
import parsePhoneNumber from 'libphonenumber-js/max'
import type { ContactKind } from '../db/database.js'

/** A contact in its one canonical form: lower-case email or E.164 phone number. */
export interface NormalisedContact {
  kind: ContactKind
  value: string
}

/** Either a normalised contact or a message saying what is wrong with the input. */
export type ContactParseResult = { ok: true; contact: NormalisedContact } | { ok: false; message: string }

// The WHATWG "valid e-mail address" production, as browsers check <input type=email>.
const emailPattern =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/

const mobileTypes = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE', 'PERSONAL_NUMBER'])

/**
 * Reads what a person typed as an email address or a mobile number. Emails are trimmed and
 * lower-cased; numbers are parsed in the default region and returned in E.164.
 */
export function parseContact(input: string, defaultRegion: string): ContactParseResult {
  const text = input.trim()
  if (text === '') return { ok: false, message: 'Enter your email address or mobile number.' }
  if (text.length > 254)
    return { ok: false, message: 'That is too long for an email address or phone number.' }
  if (text.includes('@')) {
    const email = text.toLowerCase()
    if (!emailPattern.test(email)) return { ok: false, message: 'That does not look like an email address.' }
    return { ok: true, contact: { kind: 'email', value: email } }
  }
  if (!/^[+()\d\s.-]+$/.test(text)) {
    return { ok: false, message: 'Enter an email address, or a mobile number using digits only.' }
  }
  const phone = parsePhoneNumber(text, defaultRegion as CountryCode)
  if (!phone?.isValid()) return { ok: false, message: 'That does not look like a mobile number.' }
  const type = phone.getType()
  if (type !== undefined && !mobileTypes.has(type)) {
    return { ok: false, message: 'That looks like a landline; enter a mobile number that can receive texts.' }
  }
  return { ok: true, contact: { kind: 'phone', value: phone.number } }
}

/** A contact with most of it hidden, safe for logs and for other people's screens. */
export function maskContact(value: string): string {
  const at = value.indexOf('@')
  if (at > 0) {
    const local = value.slice(0, at)
    return `${local.slice(0, 1)}${'•'.repeat(Math.max(2, Math.min(local.length - 1, 6)))}${value.slice(at)}`
  }
  return `${value.slice(0, 3)}${'•'.repeat(Math.max(2, value.length - 6))}${value.slice(-3)}`
}

/** How a contact reads to its owner: emails as they are, numbers in international format. */
export function displayContact(contact: NormalisedContact): string {
  if (contact.kind === 'email') return contact.value
  return parsePhoneNumber(contact.value)?.formatInternational() ?? contact.value
}
