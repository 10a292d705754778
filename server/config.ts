import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { getCountries } from 'libphonenumber-js'
import { z } from 'zod'
import { parseContact } from './identity/contact.js'
import { projectRoot } from './paths.js'

const countries = new Set<string>(getCountries())

const booleanish = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes')

/**
 * TRUST_PROXY accepts what Fastify's `trustProxy` accepts: true/false, a hop count, or a comma
 * separated list of addresses/CIDRs of the proxies in front of us.
 */
const trustProxy = z
  .string()
  .trim()
  .transform((v, ctx): boolean | number | string[] => {
    if (v === '' || v === 'false' || v === '0') return false
    if (v === 'true') return true
    if (/^\d+$/.test(v)) return Number(v)
    const list = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
    if (list.some((s) => !/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(s))) {
      ctx.addIssue({
        code: 'custom',
        message: 'use true, false, a hop count or a comma separated list of IPs/CIDRs',
      })
      return z.NEVER
    }
    return list
  })

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/** Every environment variable the web process and the worker read, with defaults and checks. */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://register.example.org' })
    .optional(),
  DATA_DIR: z.string().min(1).default('data'),
  DATABASE_PATH: z.string().min(1).optional(),
  SESSION_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (try: openssl rand -base64 48)')
    .optional(),
  TRUST_PROXY: trustProxy.default(false),
  SITE_NAME: z.string().trim().min(1).max(80).default('Building Register'),
  TIME_ZONE: z
    .string()
    .refine(isTimeZone, 'must be an IANA time zone such as Europe/London')
    .default('Europe/London'),
  DEFAULT_PHONE_REGION: z
    .string()
    .toUpperCase()
    .refine((c) => countries.has(c), 'must be a two-letter country code such as GB')
    .default('GB'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: booleanish.optional(),
  ADMIN_CONTACTS: z
    .string()
    .default('')
    // Commas (or semicolons, newlines) separate when present, so phone numbers may contain spaces;
    // otherwise spaces separate.
    .transform((v) =>
      v
        .split(/[,;\n]/.test(v) ? /[,;\n]+/ : /\s+/)
        .map((s) => s.trim())
        .filter(Boolean),
    ),
})

type RawConfig = z.infer<typeof configSchema>

/** The validated configuration, with derived paths and the session secret always present. */
export type Config = Omit<RawConfig, 'SESSION_SECRET' | 'DATABASE_PATH' | 'PUBLIC_URL' | 'ADMIN_CONTACTS'> & {
  /** Canonical contacts (lower-case email, E.164) that become admin when first verified. */
  ADMIN_CONTACTS: string[]
  SESSION_SECRET: string
  DATABASE_PATH: string
  PUBLIC_URL: string
}

/** Thrown when the environment cannot describe a working app; lists every problem at once. */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}

/**
 * Reads and validates the environment. Outside production a missing SESSION_SECRET is generated
 * once and kept in DATA_DIR so sessions survive restarts; production refuses to start without one.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env)
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`),
    )
  }
  const raw = parsed.data
  const problems: string[] = []
  if (raw.NODE_ENV === 'production') {
    if (!raw.SESSION_SECRET)
      problems.push('SESSION_SECRET: required in production (try: openssl rand -base64 48)')
    if (!raw.PUBLIC_URL)
      problems.push('PUBLIC_URL: required in production, e.g. https://register.example.org')
  }
  const adminContacts: string[] = []
  for (const given of raw.ADMIN_CONTACTS) {
    const parsed = parseContact(given, raw.DEFAULT_PHONE_REGION)
    if (parsed.ok) adminContacts.push(parsed.contact.value)
    else problems.push(`ADMIN_CONTACTS: "${given}": ${parsed.message}`)
  }
  if (problems.length) throw new ConfigError(problems)

  const dataDir = isAbsolute(raw.DATA_DIR) ? raw.DATA_DIR : resolve(projectRoot, raw.DATA_DIR)
  const databasePath =
    raw.DATABASE_PATH === ':memory:'
      ? ':memory:'
      : raw.DATABASE_PATH
        ? resolve(projectRoot, raw.DATABASE_PATH)
        : join(dataDir, 'register.db')
  return {
    ...raw,
    ADMIN_CONTACTS: adminContacts,
    DATA_DIR: dataDir,
    DATABASE_PATH: databasePath,
    PUBLIC_URL: (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, ''),
    SESSION_SECRET: raw.SESSION_SECRET ?? localSecret(dataDir),
  }
}

function localSecret(dataDir: string): string {
  const file = join(dataDir, 'session-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  return secret
}
