import { randomBytes } from 'node:crypto'
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, isAbsolute, join, resolve } from 'node:path'
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
const jobTime = z
  .string()
  .trim()
  .regex(
    /^(off|([01]\d|2[0-3]):[0-5]\d)$/,
    'must be a 24-hour local time such as 17:30, or off to turn the job off',
  )

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

/** PostgreSQL's sslmode values (libpq's, and pg's no-verify); server/db/connect.ts maps them to TLS. */
const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'no-verify', 'verify-ca', 'verify-full'] as const
const sslModeHint = `must be one of ${SSL_MODES.join(', ')} (Heroku Postgres: no-verify)`

/** Every environment variable the web process and the worker read, with defaults and checks. */
/** The longest a visit the auto-close closed may stay on the fire list (the purge keeps it as long). */
export const FIRE_LIST_AUTO_CLOSED_MAX_HOURS = 72

export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PUBLIC_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL such as https://register.example.org' })
    .optional(),
  DATA_DIR: z.string().min(1).default('data'),
  DATABASE_PATH: z.string().min(1).optional(),
  /** PostgreSQL instead of the SQLite file (docs/database.md); `sslmode` is honoured. */
  // Empty is unset: the Procfile passes `${RUNTIME_DATABASE_URL:-$DATABASE_URL}`, empty without either.
  DATABASE_URL: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z
      .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL (unset for the SQLite file)' })
      .optional(),
  ),
  /** The owner role `npm run migrate` uses when DATABASE_URL's role may only read and write rows. */
  MIGRATION_DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' })
    .optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /** Named (prepared) statements on PostgreSQL; false behind a transaction-pooling proxy that cannot keep them. */
  DATABASE_PREPARED_STATEMENTS: booleanish.default(true),
  /** TLS for a database URL naming no sslmode; read by server/db/connect.ts, checked here. */
  PGSSLMODE: z.preprocess((v) => (v === '' ? undefined : v), z.enum(SSL_MODES, sslModeHint).optional()),
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
  // Texted codes cost money (docs/messaging.md, "What a text may cost").
  /** Countries whose mobile numbers may be texted a code; empty means DEFAULT_PHONE_REGION only. */
  SMS_ALLOWED_COUNTRIES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(/[\s,]+/)
        .filter(Boolean)
        .map((c) => c.toUpperCase()),
    )
    .pipe(
      z.array(z.string().refine((c) => countries.has(c), 'list two-letter country codes such as GB, IE')),
    ),
  /** Codes texted per hour, site-wide, before codes to numbers nobody has verified are paused. */
  SMS_CODES_PER_HOUR: z.coerce.number().int().min(1).max(1_000_000).default(500),
  /** How long a bulk invitation link works, in days. */
  INVITATION_DAYS: z.coerce
    .number()
    .int()
    .min(1, 'must be at least 1 day')
    .max(90, 'must be at most 90 days')
    .default(14),
  /** Invitations texted per 24 hours, site-wide (their own ceiling, apart from SMS_CODES_PER_HOUR). */
  INVITATION_TEXTS_PER_DAY: z.coerce.number().int().min(0).max(1_000_000).default(500),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // Error monitoring (docs/deployment.md#error-monitoring): off, and the SDK not even loaded, when unset.
  SENTRY_DSN: z
    .union([
      z.literal('').transform(() => undefined),
      z.url({
        protocol: /^https?$/,
        error: 'must be the DSN Sentry shows, e.g. https://key@o1.ingest.sentry.io/2',
      }),
    ])
    .optional(),
  SENTRY_ENVIRONMENT: z.string().trim().max(64).optional(),
  // Traces by OTLP/HTTP (docs/deployment.md#error-monitoring): off, and not loaded, when unset.
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .union([
      z.literal('').transform(() => undefined),
      z.url({ protocol: /^https?$/, error: 'must be the collector address, e.g. http://localhost:4318' }),
    ])
    .optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).max(100).default('building-register'),
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
  /** Verify a rediss:// server's certificate chain (Heroku Redis's certificates are self-signed). */
  REDIS_TLS_VERIFY: booleanish.default(false),
  REMINDER_TIME: jobTime.default('17:30'),
  REMINDER_CONTACT_ORDER: z
    .string()
    .trim()
    .transform((v) => v.split(/[\s,]+/).filter(Boolean))
    .pipe(z.array(z.enum(['phone', 'email'], 'list phone and/or email, e.g. "phone email"')).min(1))
    .default(['phone', 'email']),
  REMINDER_MAX_PER_MINUTE: z.coerce.number().int().min(1).max(6000).default(30),
  AUTO_CLOSE_TIME: jobTime.default('23:59'),
  // The fire list (docs/reception.md#the-fire-list): how long "Still here" counts as in, and how
  // long a visit the system auto-closed stays listed as unconfirmed.
  FIRE_LIST_STILL_HERE_HOURS: z.coerce.number().min(0.25).max(24).default(2),
  FIRE_LIST_AUTO_CLOSED_HOURS: z.coerce.number().min(1).max(FIRE_LIST_AUTO_CLOSED_MAX_HOURS).default(12),
  PURGE_TIME: jobTime.default('03:30'),
  RETENTION_DAYS: z.coerce.number().int().min(1, 'must be at least 1 day').max(3650).default(90),
  // Kiosk and visitors (docs/kiosk.md).
  /** Staff may sign in only at the door: the kiosk's door code on their phone, a kiosk PIN, or reception. */
  REQUIRE_DOOR_CODE: booleanish.default(false),
  VISITOR_RETENTION_DAYS: z.coerce.number().int().min(1, 'must be at least 1 day').max(3650).default(30),
  SLACK_WEBHOOK_URLS: urlList.default([]),
  SLACK_DIGEST_WEBHOOK_URLS: urlList.default([]),
  SLACK_POST_NAMES: booleanish.default(true),
  SLACK_DIGEST_TIMES: timeList.default([]),
  TEAMS_WEBHOOK_URLS: urlList.default([]),
  TEAMS_DIGEST_WEBHOOK_URLS: urlList.default([]),
  // Outgoing webhooks (docs/integrations.md).
  WEBHOOKS_ALLOW_PRIVATE: booleanish.default(false),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  // Organisation sign-in (docs/sso.md). Providers themselves are SSO_<n>_* (see ssoSlotSchema).
  SSO_REQUIRED_FOR_ROLES: z
    .string()
    .trim()
    .transform((v) => v.split(/[\s,]+/).filter(Boolean))
    .pipe(z.array(z.enum(['reception', 'admin'], 'list reception and/or admin, e.g. "reception,admin"')))
    .default([]),
  // The privacy notice at /privacy (docs/privacy.md): your own text, and who to ask.
  PRIVACY_NOTICE_FILE: z
    .string()
    .trim()
    .default('')
    .refine(
      (v) => v === '' || existsSync(v),
      'no such file: give the path of a UTF-8 text file, or leave it unset',
    ),
  PRIVACY_CONTACT: z.string().trim().max(200, 'keep it under 200 characters').default(''),
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

/** How many organisation sign-in providers may be configured at once (SSO_1_* … SSO_9_*). */
export const SSO_SLOTS = 9

const entraTenantId = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a tenant ID (a GUID)')

/** A comma or space separated list, lower-cased; empty means none. */
const lowerList = z
  .string()
  .trim()
  .transform((v) =>
    v
      .toLowerCase()
      .split(/[\s,]+/)
      .filter(Boolean),
  )

/**
 * One organisation sign-in provider, read from SSO_<n>_TYPE, SSO_<n>_CLIENT_ID, … (n = 1 to 9, so
 * an operator can write them as Heroku config vars). Each key below is the part after SSO_<n>_.
 */
const ssoSlotSchema = z
  .object({
    TYPE: z.enum(['entra', 'google', 'oidc'], 'must be entra, google or oidc'),
    ID: z
      .string()
      .trim()
      .regex(
        /^[a-z0-9][a-z0-9-]{0,30}$/,
        'must be a short lower-case name such as microsoft (used in the redirect URI)',
      )
      .optional(),
    LABEL: z.string().trim().min(1).max(60).optional(),
    ISSUER: z
      .url({ protocol: /^https?$/, error: 'must be the issuer URL, e.g. https://example.okta.com' })
      .optional(),
    TENANT: z.union([z.enum(['organizations', 'common']), entraTenantId]).optional(),
    ALLOWED_TENANTS: lowerList.pipe(z.array(entraTenantId)).default([]),
    CLIENT_ID: z.string().trim().min(1, 'is required'),
    CLIENT_SECRET: z.string().trim().min(1, 'is required'),
    ALLOWED_DOMAINS: lowerList
      .pipe(z.array(z.string().regex(/^[a-z0-9.-]+\.[a-z]{2,}$/, 'must be domains such as example.org')))
      .default([]),
  })
  .superRefine((s, ctx) => {
    const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message })
    if (s.TYPE === 'entra') {
      if (!s.TENANT)
        problem('TENANT', 'required for entra: your tenant ID, or organizations for several tenants')
      else if (s.TENANT === 'organizations' || s.TENANT === 'common') {
        if (s.ALLOWED_TENANTS.length === 0)
          problem(
            'ALLOWED_TENANTS',
            `required when TENANT is ${s.TENANT}: the tenant IDs whose people may sign in`,
          )
      }
      if (s.ISSUER) problem('ISSUER', 'not used for entra: set TENANT instead')
    } else {
      if (s.TENANT || s.ALLOWED_TENANTS.length) problem('TENANT', 'only used for entra')
      if (s.TYPE === 'oidc' && !s.ISSUER) problem('ISSUER', 'required for oidc: the provider’s issuer URL')
      if (s.TYPE === 'google' && s.ALLOWED_DOMAINS.length === 0)
        problem('ALLOWED_DOMAINS', 'required for google (or anyone with a Gmail address could sign in)')
    }
  })

/** An organisation sign-in provider, ready for server/sso/. */
export interface SsoProviderConfig {
  /** Lower-case name in the URLs: /login/sso/<id> and its /callback. */
  id: string
  type: 'entra' | 'google' | 'oidc'
  /** The button's text. */
  label: string
  /** Where discovery starts: the issuer (for Entra, its tenant or organizations authority). */
  discoveryUrl: string
  clientId: string
  clientSecret: string
  /** Email domains allowed to sign in; empty means any. */
  allowedDomains: string[]
  /** Entra: tenant IDs whose ID tokens are accepted. */
  allowedTenants: string[]
}

const ssoDefaults = {
  entra: { id: 'microsoft', label: 'Sign in with Microsoft' },
  google: { id: 'google', label: 'Sign in with Google' },
  oidc: { id: 'sso', label: 'Sign in with your organisation account' },
} as const

/** Reads SSO_1_* … SSO_9_*; a slot is in use when any of its variables is set. */
function ssoProviders(env: NodeJS.ProcessEnv, problems: string[]): SsoProviderConfig[] {
  const providers: SsoProviderConfig[] = []
  const keys = Object.keys(ssoSlotSchema.shape)
  for (let n = 1; n <= SSO_SLOTS; n++) {
    const slot: Record<string, string> = {}
    for (const key of keys) {
      const value = env[`SSO_${n}_${key}`]
      if (value !== undefined && value !== '') slot[key] = value
    }
    if (Object.keys(slot).length === 0) continue
    const parsed = ssoSlotSchema.safeParse(slot)
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        problems.push(`SSO_${n}_${String(issue.path[0] ?? 'TYPE')}: ${issue.message}`)
      continue
    }
    const s = parsed.data
    const defaults = ssoDefaults[s.TYPE]
    const id = s.ID ?? (s.TYPE === 'oidc' && n > 1 ? `sso${n}` : defaults.id)
    if (providers.some((p) => p.id === id)) {
      problems.push(`SSO_${n}_ID: "${id}" is already used by another provider; give each a different ID`)
      continue
    }
    providers.push({
      id,
      type: s.TYPE,
      label: s.LABEL ?? defaults.label,
      discoveryUrl:
        s.TYPE === 'entra'
          ? `https://login.microsoftonline.com/${s.TENANT}/v2.0`
          : s.TYPE === 'google'
            ? (s.ISSUER ?? 'https://accounts.google.com')
            : s.ISSUER!,
      clientId: s.CLIENT_ID,
      clientSecret: s.CLIENT_SECRET,
      allowedDomains: s.ALLOWED_DOMAINS,
      allowedTenants:
        s.TYPE !== 'entra'
          ? []
          : s.TENANT === 'organizations' || s.TENANT === 'common'
            ? s.ALLOWED_TENANTS
            : [s.TENANT!],
    })
  }
  return providers
}

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
  | 'SMS_ALLOWED_COUNTRIES'
> & {
  /** Canonical contacts (lower-case email, E.164) that become admin when first verified. */
  ADMIN_CONTACTS: string[]
  /** Countries whose mobiles may be texted a code (DEFAULT_PHONE_REGION when none were listed). */
  SMS_ALLOWED_COUNTRIES: string[]
  /** Organisation sign-in providers, in SSO_<n> order (the login page's button order). */
  SSO_PROVIDERS: SsoProviderConfig[]
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
    // Several processes (web dynos, a worker) must share the Web Push keys: a key pair generated
    // into one process's disk would be unknown to the others (and lost on Heroku's next restart).
    if ((raw.REDIS_URL || raw.DATABASE_URL) && (!raw.VAPID_PUBLIC_KEY || !raw.VAPID_PRIVATE_KEY)) {
      problems.push(
        'VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY: required in production with REDIS_URL or DATABASE_URL, where several processes run (generate once: npx web-push generate-vapid-keys)',
      )
    }
  }
  // A mistyped sslmode would mean no TLS at all (server/db/connect.ts): stop and say so instead.
  for (const name of ['DATABASE_URL', 'MIGRATION_DATABASE_URL'] as const) {
    const mode = raw[name] && new URL(raw[name]).searchParams.get('sslmode')
    if (mode && !(SSL_MODES as readonly string[]).includes(mode))
      problems.push(`${name}: sslmode=${mode} ${sslModeHint}`)
  }
  if (raw.MIGRATION_DATABASE_URL && !raw.DATABASE_URL)
    problems.push('MIGRATION_DATABASE_URL: set DATABASE_URL too (the role the app runs as)')
  problems.push(...messagingProblems(raw))
  if (Boolean(raw.VAPID_PUBLIC_KEY) !== Boolean(raw.VAPID_PRIVATE_KEY))
    problems.push('VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY: set both or neither')
  const adminContacts: string[] = []
  for (const given of raw.ADMIN_CONTACTS) {
    const parsed = parseContact(given, raw.DEFAULT_PHONE_REGION)
    if (parsed.ok) adminContacts.push(parsed.contact.value)
    else problems.push(`ADMIN_CONTACTS: "${given}": ${parsed.message}`)
  }
  const sso = ssoProviders(env, problems)
  if (raw.SSO_REQUIRED_FOR_ROLES.length > 0 && sso.length === 0)
    problems.push('SSO_REQUIRED_FOR_ROLES: configure an organisation sign-in provider (SSO_1_TYPE, …) first')
  if (raw.NODE_ENV === 'production') {
    for (const p of sso)
      if (p.discoveryUrl.startsWith('http:'))
        problems.push(`SSO (${p.id}): the issuer must be https in production`)
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
    SMS_ALLOWED_COUNTRIES:
      raw.SMS_ALLOWED_COUNTRIES.length > 0 ? raw.SMS_ALLOWED_COUNTRIES : [raw.DEFAULT_PHONE_REGION],
    SSO_PROVIDERS: sso,
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
  const text = createOnce(join(dataDir, 'vapid-keys.json'), () => `${JSON.stringify(generateVapidKeys())}\n`)
  return JSON.parse(text) as { publicKey: string; privateKey: string }
}

function localSecret(dataDir: string): string {
  return createOnce(
    join(dataDir, 'session-secret'),
    () => `${randomBytes(48).toString('base64url')}\n`,
  ).trim()
}

/**
 * A file's content, made by `make` if the file does not exist yet. Processes starting together (a
 * web process and a worker on one machine) must agree: the content goes to a temporary file that is
 * hard-linked into place, which fails if another process got there first; then theirs is read. No
 * process ever reads a half-written file.
 */
function createOnce(file: string, make: () => string): string {
  if (existsSync(file)) return readFileSync(file, 'utf8')
  mkdirSync(dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`
  writeFileSync(temporary, make(), { mode: 0o600, flag: 'wx' })
  try {
    linkSync(temporary, file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    rmSync(temporary, { force: true })
  }
  return readFileSync(file, 'utf8')
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
