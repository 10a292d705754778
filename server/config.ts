import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
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

const clockTime = z
  .string()
  .trim()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour local time such as 17:30')

/** A local time of day (HH:mm), or "off" to disable the job. */
const jobTime = z.union([z.literal('off'), clockTime])

/** Space separated local times (HH:mm), e.g. "10:00 14:00"; empty means none. */
const timeList = z
  .string()
  .trim()
  .transform((v) => (v === '' ? [] : v.split(/\s+/)))
  .pipe(z.array(clockTime))

/** Space separated https webhook URLs; empty means none. */
const urlList = z
  .string()
  .trim()
  .transform((v) => (v === '' ? [] : v.split(/\s+/)))
  .pipe(z.array(z.url({ protocol: /^https?$/, error: 'each must be an http(s) webhook URL' })))

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
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(10).max(1_000_000).default(300),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Human-readable logs; defaults to on in development when pino-pretty is installed. */
  LOG_PRETTY: booleanish.optional(),
  // Messaging (docs/messaging.md). A channel is enabled when its settings are all present.
  TWILIO_ACCOUNT_SID: z
    .string()
    .trim()
    .regex(/^AC[0-9a-fA-F]{32}$/, 'must be your Twilio Account SID (AC followed by 32 hex digits)')
    .optional(),
  TWILIO_AUTH_TOKEN: z.string().trim().min(16, 'must be the Auth Token from the Twilio console').optional(),
  TWILIO_MESSAGING_SERVICE_SID: z
    .string()
    .trim()
    .regex(/^MG[0-9a-fA-F]{32}$/, 'must be a Messaging Service SID (MG followed by 32 hex digits)')
    .optional(),
  TWILIO_FROM: z
    .string()
    .trim()
    .refine(
      (v) => /^\+[1-9]\d{6,14}$/.test(v) || (/^[A-Za-z0-9 ]{1,11}$/.test(v) && /[A-Za-z]/.test(v)),
      'must be an E.164 number such as +447400123456 or an alphanumeric sender ID (1-11 letters, digits or spaces, at least one letter)',
    )
    .optional(),
  TWILIO_API_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  GRAPH_TENANT_ID: z.string().trim().min(1).optional(),
  GRAPH_CLIENT_ID: z.string().trim().min(1).optional(),
  GRAPH_CLIENT_SECRET: z.string().trim().min(1).optional(),
  GRAPH_SENDER: z
    .email({ error: 'must be the mailbox the emails are sent from, e.g. register@example.org' })
    .optional(),
  GRAPH_API_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  GRAPH_LOGIN_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  THEME_COLOR: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #1d3557')
    .default('#1d3557'),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]{87}$/,
      'must be a URL-safe base64 P-256 public key (npx web-push generate-vapid-keys)',
    )
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]{43}$/,
      'must be a URL-safe base64 P-256 private key (npx web-push generate-vapid-keys)',
    )
    .optional(),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:\S+@\S+|https:\/\/\S+)$/, 'must be a mailto: address or an https: URL')
    .optional(),
  // Background jobs (docs/jobs.md).
  REDIS_URL: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  REMINDER_TIME: jobTime.default('17:30'),
  REMINDER_CONTACT_ORDER: z
    .string()
    .trim()
    .transform((v) => v.split(/[\s,]+/).filter(Boolean))
    .pipe(z.array(z.enum(['phone', 'email'], 'list phone and/or email, e.g. "phone email"')).min(1))
    .default(['phone', 'email']),
  REMINDER_MAX_PER_MINUTE: z.coerce.number().int().min(1).max(6000).default(30),
  AUTO_CLOSE_TIME: jobTime.default('23:59'),
  PURGE_TIME: jobTime.default('03:30'),
  RETENTION_DAYS: z.coerce.number().int().min(1, 'must be at least 1 day').max(3650).default(90),
  SLACK_WEBHOOK_URLS: urlList.default([]),
  SLACK_DIGEST_WEBHOOK_URLS: urlList.default([]),
  SLACK_POST_NAMES: booleanish.default(true),
  SLACK_DIGEST_TIMES: timeList.default([]),
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
export type Config = Omit<
  RawConfig,
  | 'SESSION_SECRET'
  | 'DATABASE_PATH'
  | 'PUBLIC_URL'
  | 'VAPID_PUBLIC_KEY'
  | 'VAPID_PRIVATE_KEY'
  | 'VAPID_SUBJECT'
  | 'ADMIN_CONTACTS'
> & {
  /** Canonical contacts (lower-case email, E.164) that become admin when first verified. */
  ADMIN_CONTACTS: string[]
  SESSION_SECRET: string
  DATABASE_PATH: string
  PUBLIC_URL: string
  VAPID_PUBLIC_KEY: string
  VAPID_PRIVATE_KEY: string
  VAPID_SUBJECT: string
}

/** Thrown when the environment cannot describe a working app; lists every problem at once. */
export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
  }
}

/**
 * loadConfig for an entry point (web, worker, command line): on a bad environment it prints every
 * problem, and where the settings are explained, then exits with status 1.
 */
export function loadConfigOrExit(seeAlso?: string): Config {
  try {
    return loadConfig()
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(seeAlso ? `${error.message}\n${seeAlso}` : error.message)
    process.exit(1)
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
  problems.push(...messagingProblems(raw))
  if (Boolean(raw.VAPID_PUBLIC_KEY) !== Boolean(raw.VAPID_PRIVATE_KEY))
    problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY: set both or neither')
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
  const publicUrl = (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT}`).replace(/\/+$/, '')
  const vapid =
    raw.VAPID_PUBLIC_KEY && raw.VAPID_PRIVATE_KEY
      ? { publicKey: raw.VAPID_PUBLIC_KEY, privateKey: raw.VAPID_PRIVATE_KEY }
      : databasePath === ':memory:'
        ? generateVapidKeys()
        : localVapidKeys(dataDir)
  return {
    ...raw,
    LOG_PRETTY: raw.LOG_PRETTY ?? (raw.NODE_ENV === 'development' && canResolve('pino-pretty')),
    ADMIN_CONTACTS: adminContacts,
    DATA_DIR: dataDir,
    DATABASE_PATH: databasePath,
    PUBLIC_URL: publicUrl,
    SESSION_SECRET: raw.SESSION_SECRET ?? localSecret(dataDir),
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT:
      raw.VAPID_SUBJECT ?? (publicUrl.startsWith('https:') ? publicUrl : 'mailto:admin@localhost'),
  }
}

function canResolve(specifier: string): boolean {
  try {
    createRequire(import.meta.url).resolve(specifier)
    return true
  } catch {
    return false
  }
}

/** A fresh VAPID key pair; web-push is loaded only here, on first start (it is ~10 MB). */
function generateVapidKeys(): { publicKey: string; privateKey: string } {
  const webPush = createRequire(import.meta.url)('web-push') as typeof import('web-push')
  return webPush.generateVAPIDKeys()
}

/** Web Push keys generated once and kept in DATA_DIR, so subscriptions survive restarts. */
function localVapidKeys(dataDir: string): { publicKey: string; privateKey: string } {
  const file = join(dataDir, 'vapid-keys.json')
  if (existsSync(file))
    return JSON.parse(readFileSync(file, 'utf8')) as { publicKey: string; privateKey: string }
  mkdirSync(dataDir, { recursive: true })
  const keys = generateVapidKeys()
  writeFileSync(file, `${JSON.stringify(keys)}\n`, { mode: 0o600, flag: 'wx' })
  return keys
}

function localSecret(dataDir: string): string {
  const file = join(dataDir, 'session-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' })
  return secret
}

/** A channel's settings must be all present or all absent; half a configuration is a mistake. */
function messagingProblems(raw: RawConfig): string[] {
  const problems: string[] = []
  const partial = (names: (keyof RawConfig)[], what: string) => {
    const missing = names.filter((n) => !raw[n])
    if (missing.length > 0 && missing.length < names.length) {
      problems.push(
        `${missing.join(', ')}: required to send ${what} (or unset ${names.filter((n) => raw[n]).join(', ')})`,
      )
    }
    return missing.length === 0
  }
  const twilio = partial(['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN'], 'texts through Twilio')
  const sender = raw.TWILIO_MESSAGING_SERVICE_SID || raw.TWILIO_FROM
  if (twilio && !sender) {
    problems.push('TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM: set one so Twilio knows who texts come from')
  }
  if (!twilio && sender && !raw.TWILIO_ACCOUNT_SID && !raw.TWILIO_AUTH_TOKEN) {
    problems.push('TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN: required when a Twilio sender is set')
  }
  if (raw.TWILIO_MESSAGING_SERVICE_SID && raw.TWILIO_FROM) {
    problems.push('TWILIO_FROM: set either TWILIO_MESSAGING_SERVICE_SID or TWILIO_FROM, not both')
  }
  partial(
    ['GRAPH_TENANT_ID', 'GRAPH_CLIENT_ID', 'GRAPH_CLIENT_SECRET', 'GRAPH_SENDER'],
    'email through Microsoft 365',
  )
  return problems
}
