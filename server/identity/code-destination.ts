import parsePhoneNumber from 'libphonenumber-js/max'
import { UserError } from '../lib/errors.js'
import type { NormalisedContact } from './contact.js'

/** Number types a code may be texted to: real mobiles (some plans cannot tell mobile from fixed). */
const textableTypes = new Set(['MOBILE', 'FIXED_LINE_OR_MOBILE'])

const regionNames = new Intl.DisplayNames(['en'], { type: 'region' })

/** "the United Kingdom", "France", "the United Kingdom or France". */
function countryList(codes: readonly string[]): string {
  const names = codes.map((c) => {
    const name = regionNames.of(c) ?? c
    return /^(United|Netherlands|Philippines|Czech|Dominican|Bahamas|Gambia)/.test(name)
      ? `the ${name}`
      : name
  })
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}

/** Why a number may not be texted: outside the allowed countries (named), or not a plain mobile. */
export type TextDestinationProblem = { problem: 'country'; countries: string } | { problem: 'type' }

/**
 * Where SMS-pumping fraud sends texts: numbers outside the allowed countries, numbers of no
 * country at all (satellite phones, +881/+870, and other international ranges), and numbers that
 * are not plain mobiles (personal numbering, premium rate, pagers, VoIP). Undefined for emails and
 * for numbers that may be texted.
 */
export function textDestinationProblem(
  contact: NormalisedContact,
  allowedCountries: readonly string[],
): TextDestinationProblem | undefined {
  if (contact.kind !== 'phone') return undefined
  const phone = parsePhoneNumber(contact.value)
  const country = phone?.country
  if (!country || !allowedCountries.includes(country))
    return { problem: 'country', countries: countryList(allowedCountries) }
  if (!textableTypes.has(phone.getType() ?? '')) return { problem: 'type' }
  return undefined
}

/** Refuses to text a code where SMS-pumping fraud sends it (see textDestinationProblem). Emails pass. */
export function checkTextDestination(contact: NormalisedContact, allowedCountries: readonly string[]): void {
  const found = textDestinationProblem(contact, allowedCountries)
  if (found?.problem === 'country') {
    throw new UserError(
      400,
      `Codes are sent by text only to mobile numbers in ${found.countries}. Use your email address instead, or ask reception.`,
    )
  }
  if (found?.problem === 'type') {
    throw new UserError(
      400,
      'That number cannot receive our texts: codes go only to ordinary mobile numbers. Use your mobile number or your email address.',
    )
  }
}
