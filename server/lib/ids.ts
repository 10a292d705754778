/**
 * The largest id a row can have. Ids are `integer` columns: 32-bit in PostgreSQL (a larger number
 * in a query is an error there, not "no such row"), 64-bit in SQLite. Every id that comes from
 * outside (a path, a form, a JSON field) is checked against this, so both tiers answer "not found"
 * or "invalid" alike, never a 500.
 */
export const MAX_ID = 2_147_483_647

/** JSON schema for a field or parameter that must be an id. */
export const idSchema = { type: 'integer', minimum: 1, maximum: MAX_ID } as const

/** The id written in `text` (digits only), or undefined when it is not one a row could have. */
export function idFromText(text: string | undefined): number | undefined {
  if (text === undefined || !/^[1-9]\d{0,9}$/.test(text)) return undefined
  const id = Number(text)
  return id <= MAX_ID ? id : undefined
}
