import type { Db } from '../db/connect.js'
import { UserError } from '../lib/errors.js'
import { listActivePeopleNames } from './kiosk.repository.js'

/** The most names a kiosk ever shows for one search. */
export const MAX_MATCHES = 5

/** A person a kiosk may show: a name and an id, never a contact. */
export interface NameMatch {
  personId: number
  firstName: string
  lastName: string
}

/**
 * A name folded the way the presence board's collator compares (sensitivity "base"): accents and
 * case ignored, so "zoe" finds "Zoë" and "ZOE".
 */
export function foldName(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('en').replace(/\s+/g, ' ').trim()
}

/** The typed search, folded and split into words; at least 3 letters or a 422 saying so. */
export function searchWords(typed: string): string[] {
  const folded = foldName(typed.slice(0, 100))
  const letters = folded.replace(/[^\p{L}]/gu, '')
  if (letters.length < 3) throw new UserError(422, 'Type at least 3 letters of the name.')
  return folded.split(' ').filter(Boolean)
}

// The presence board's collator (reception/presence.service.ts imports visitors, so not imported from there).
const collator = new Intl.Collator('en', { sensitivity: 'base' })

/** Compares two names as the presence board sorts them: case and accents ignored. */
export const compareNames = (a: string, b: string) => collator.compare(a, b)

/** True when every typed word starts a word of the name ("ali smi" matches "Alice Smith"). */
export function nameMatches(words: string[], firstName: string, lastName: string): boolean {
  const nameWords = foldName(`${firstName} ${lastName}`).split(/[\s-]+/)
  return words.every((w) => nameWords.some((n) => n.startsWith(w)))
}

/**
 * Active people whose name matches the search, by name, at most MAX_MATCHES; `more` says there
 * were others (the kiosk asks for more letters rather than list them). With `withPin`, only people
 * who have set a kiosk PIN.
 */
export async function searchPeopleByName(
  db: Db,
  typed: string,
  options: { withPin?: boolean } = {},
): Promise<{ matches: NameMatch[]; more: boolean }> {
  const words = searchWords(typed)
  const found = (await listActivePeopleNames(db, options)).filter((p) =>
    nameMatches(words, p.firstName, p.lastName),
  )
  found.sort(
    (a, b) =>
      collator.compare(a.firstName, b.firstName) ||
      collator.compare(a.lastName, b.lastName) ||
      a.personId - b.personId,
  )
  return { matches: found.slice(0, MAX_MATCHES), more: found.length > MAX_MATCHES }
}
