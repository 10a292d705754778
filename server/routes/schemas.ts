import { idSchema } from '../lib/ids.js'

/** JSON schema for a form or JSON body whose fields are all short text. */
export function textFields<const R extends readonly string[], const O extends readonly string[] = []>(
  required: R,
  optional?: O,
  maxLength = 320,
) {
  const properties: Record<string, { type: 'string'; maxLength: number }> = {
    _csrf: { type: 'string', maxLength: 200 },
  }
  for (const name of [...required, ...(optional ?? [])]) properties[name] = { type: 'string', maxLength }
  return { type: 'object', required: [...required], properties } as const
}

/** A route parameter that must be a positive integer id. */
export const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: idSchema },
} as const
