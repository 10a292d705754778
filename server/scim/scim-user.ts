import { z } from 'zod'
import type { Contact } from '../db/database.js'
import type { DirectoryPerson } from './directory-user.repository.js'
import { ScimError } from './scim-error.js'

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User'
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse'
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'

/** What the register keeps of a directory user; everything else the directory sends is ignored. */
export interface DirectoryFields {
  userName: string
  externalId: string | null
  active: boolean
  givenName: string
  familyName: string
  displayName: string
  email: string | null
  phone: string | null
}

/** Entra sends "True"/"False" strings where Okta sends booleans: both mean the same. */
export function scimBoolean(value: unknown, attribute: string): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim()))
    return value.trim().toLowerCase() === 'true'
  throw new ScimError(400, `${attribute} must be true or false.`, 'invalidValue')
}

const optionalText = (max: number) => z.string().max(max).nullish()
const multiValued = z
  .array(
    z.object({
      value: z.string().max(254).nullish(),
      type: z.string().max(40).nullish(),
      primary: z.unknown().optional(),
    }),
  )
  .max(20)
  .nullish()

const userInput = z.looseObject({
  userName: z.string().trim().min(1, 'userName is required').max(254),
  externalId: optionalText(254),
  active: z.unknown().optional(),
  displayName: optionalText(200),
  name: z
    .looseObject({
      givenName: optionalText(100),
      familyName: optionalText(100),
      formatted: optionalText(200),
    })
    .nullish(),
  emails: multiValued,
  phoneNumbers: multiValued,
})

/** The primary value of a multi-valued attribute, else the one of the preferred type, else the first. */
function pick(values: z.infer<typeof multiValued>, type: string): string | null {
  const list = (values ?? []).filter((v) => v.value && v.value.trim() !== '')
  const chosen =
    list.find((v) => v.primary === true || v.primary === 'True' || v.primary === 'true') ??
    list.find((v) => v.type?.toLowerCase() === type) ??
    list[0]
  return chosen?.value?.trim() ?? null
}

/** Reads a User resource sent by POST or PUT; malformed input is a 400 with SCIM's invalidSyntax or invalidValue. */
export function parseUser(body: unknown): DirectoryFields {
  const parsed = userInput.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ScimError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`, 'invalidSyntax')
  }
  const u = parsed.data
  return {
    userName: u.userName,
    externalId: u.externalId?.trim() || null,
    active: u.active === undefined || u.active === null ? true : scimBoolean(u.active, 'active'),
    givenName: u.name?.givenName?.trim() ?? '',
    familyName: u.name?.familyName?.trim() ?? '',
    displayName: u.displayName?.trim() ?? u.name?.formatted?.trim() ?? '',
    email: pick(u.emails, 'work'),
    phone: pick(u.phoneNumbers, 'mobile'),
  }
}

const patchInput = z.looseObject({
  Operations: z
    .array(
      z.looseObject({ op: z.string(), path: z.string().max(200).optional(), value: z.unknown().optional() }),
    )
    .min(1, 'at least one operation is required')
    .max(100),
})

const text = (value: unknown, attribute: string): string => {
  if (typeof value === 'string') return value.trim()
  throw new ScimError(400, `${attribute} must be a string.`, 'invalidValue')
}
const nullableText = (value: unknown, attribute: string): string | null =>
  value === null || value === undefined ? null : text(value, attribute) || null
const contactValueOf = (value: unknown, type: string, attribute: string): string | null => {
  if (Array.isArray(value)) {
    const list = multiValued.safeParse(value)
    if (!list.success)
      throw new ScimError(400, `${attribute} must be a list of {"value": "…"}.`, 'invalidValue')
    return pick(list.data, type)
  }
  if (value && typeof value === 'object' && 'value' in value) return nullableText(value.value, attribute)
  return nullableText(value, attribute)
}

/** Applies one attribute (a path in lower case) to the fields; unknown attributes are ignored. */
function applyAttribute(fields: DirectoryFields, path: string, value: unknown, remove: boolean): void {
  const p = path.toLowerCase().replace(/^urn:ietf:params:scim:schemas:core:2\.0:user:/, '')
  if (p === 'active') {
    if (!remove) fields.active = scimBoolean(value, 'active')
  } else if (p === 'username') {
    if (remove) throw new ScimError(400, 'userName cannot be removed.', 'mutability')
    const name = text(value, 'userName')
    if (!name) throw new ScimError(400, 'userName cannot be empty.', 'invalidValue')
    fields.userName = name.slice(0, 254)
  } else if (p === 'externalid') fields.externalId = remove ? null : nullableText(value, 'externalId')
  else if (p === 'displayname') fields.displayName = remove ? '' : (nullableText(value, 'displayName') ?? '')
  else if (p === 'name.givenname')
    fields.givenName = remove ? '' : (nullableText(value, 'name.givenName') ?? '')
  else if (p === 'name.familyname')
    fields.familyName = remove ? '' : (nullableText(value, 'name.familyName') ?? '')
  else if (p === 'name' && value && typeof value === 'object' && !remove) {
    for (const [key, v] of Object.entries(value)) applyAttribute(fields, `name.${key}`, v, false)
  } else if (p.startsWith('emails')) fields.email = remove ? null : contactValueOf(value, 'work', 'emails')
  else if (p.startsWith('phonenumbers'))
    fields.phone = remove ? null : contactValueOf(value, 'mobile', 'phoneNumbers')
}

/**
 * Applies a PatchOp as Entra and Okta send them: `op` in any case (Entra: "Replace"), with a path
 * (`active`, `name.givenName`, `emails[type eq "work"].value`…) or without one and an object of
 * attributes as the value (Okta: `{"active": false}`).
 */
export function applyPatch(current: DirectoryFields, body: unknown): DirectoryFields {
  const parsed = patchInput.safeParse(body)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new ScimError(400, `${issue.path.join('.') || 'body'}: ${issue.message}`, 'invalidSyntax')
  }
  const fields = { ...current }
  for (const operation of parsed.data.Operations) {
    const op = operation.op.toLowerCase()
    if (op !== 'add' && op !== 'replace' && op !== 'remove')
      throw new ScimError(
        400,
        `Unknown operation "${operation.op}": use add, replace or remove.`,
        'invalidSyntax',
      )
    if (operation.path) {
      applyAttribute(fields, operation.path, operation.value, op === 'remove')
    } else {
      const value = operation.value
      if (!value || typeof value !== 'object' || Array.isArray(value))
        throw new ScimError(
          400,
          'An operation without a path needs an object of attributes as its value.',
          'invalidSyntax',
        )
      for (const [key, v] of Object.entries(value)) applyAttribute(fields, key, v, op === 'remove')
    }
  }
  return fields
}

/** Reads the one filter providers send: `userName eq "…"` (or externalId); anything else is a 400. */
export function parseFilter(filter: string | undefined): { userName?: string; externalId?: string } {
  if (filter === undefined || filter.trim() === '') return {}
  const match = /^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i.exec(filter)
  if (!match)
    throw new ScimError(
      400,
      'Only filters of the form userName eq "…" or externalId eq "…" are supported.',
      'invalidFilter',
    )
  const value = match[2]!.replace(/\\(.)/g, '$1')
  return match[1]!.toLowerCase() === 'username' ? { userName: value } : { externalId: value }
}

/** The fields as the register holds them now. */
export function currentFields(user: DirectoryPerson, contacts: Contact[]): DirectoryFields {
  return {
    userName: user.user_name,
    externalId: user.external_id,
    active: user.active === 1,
    givenName: user.first_name,
    familyName: user.last_name,
    displayName: `${user.first_name} ${user.last_name}`.trim(),
    email: contacts.find((c) => c.kind === 'email')?.value ?? null,
    phone: contacts.find((c) => c.kind === 'phone')?.value ?? null,
  }
}

/** A person as a SCIM User resource. */
export function userResource(
  user: DirectoryPerson,
  contacts: Contact[],
  baseUrl: string,
): Record<string, unknown> {
  const emails = contacts.filter((c) => c.kind === 'email')
  const phones = contacts.filter((c) => c.kind === 'phone')
  return {
    schemas: [USER_SCHEMA],
    id: String(user.person_id),
    ...(user.external_id ? { externalId: user.external_id } : {}),
    userName: user.user_name,
    name: {
      givenName: user.first_name,
      familyName: user.last_name,
      formatted: `${user.first_name} ${user.last_name}`.trim(),
    },
    displayName: `${user.first_name} ${user.last_name}`.trim(),
    active: user.active === 1,
    emails: emails.map((c, i) => ({ value: c.value, type: 'work', primary: i === 0 })),
    phoneNumbers: phones.map((c, i) => ({ value: c.value, type: 'mobile', primary: i === 0 })),
    meta: {
      resourceType: 'User',
      created: new Date(user.created_at).toISOString(),
      lastModified: new Date(user.updated_at).toISOString(),
      location: `${baseUrl}/Users/${user.person_id}`,
    },
  }
}
