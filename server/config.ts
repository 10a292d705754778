import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import { getCountries } from 'libphonenumber-js'
import { z } from 'zod'
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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: booleanish.optional(),
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
})

type RawConfig = z.infer<typeof configSchema>

/** The validated configuration, with derived paths and the session secret always present. */
export type Config = Omit<RawConfig, 'SESSION_SECRET' | 'DATABASE_PATH' | 'PUBLIC_URL'> & {
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
