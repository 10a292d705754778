import { readFileSync } from 'node:fs'
import type { Config } from '../config.js'

/** One kind of data the register keeps, and for how long. */
export interface KeptItem {
  what: string
  howLong: string
}

/** The privacy notice: the operator's own text (paragraphs) when configured, else the default. */
export interface PrivacyNotice {
  custom: string[] | undefined
  kept: KeptItem[]
  contact: string
}

const days = (n: number) => (n === 1 ? '1 day' : `${n} days`)

/**
 * What each table the nightly purge (server/retention) clears holds, and how long it is kept,
 * from the same settings the purge uses. A test fails when a retention rule's table is missing
 * here, so the notice cannot fall behind the purge. `undefined`: internal, nothing about people.
 */
export const RETENTION_NOTICE: Readonly<Record<string, ((config: Config) => KeptItem) | undefined>> = {
  visit: (c) => ({
    what: 'Your visits: when you signed in and out, and how (yourself, reception, the end-of-day close)',
    howLong: `${days(c.RETENTION_DAYS)} after the visit, then deleted`,
  }),
  reminder: (c) => ({
    what: 'End-of-day reminders sent to you and your answer',
    howLong: `${days(c.RETENTION_DAYS)}, then deleted`,
  }),
  audit_event: (c) => ({
    what: 'The audit trail: each change made by or about you, with the network address and browser it came from',
    howLong: `${days(c.RETENTION_DAYS)}, then deleted`,
  }),
  message: (c) => ({
    what: 'The log of messages sent to you (codes, reminders, alerts): to which contact, why, and whether it arrived — never the text',
    howLong: `${days(c.RETENTION_DAYS)}, then deleted`,
  }),
  login_code: () => ({
    what: 'One-time codes, stored only as a keyed hash',
    howLong: 'a day after they expire (they expire within minutes)',
  }),
  device: (c) => ({
    what: 'The devices you signed in on (their browser name and when last used), recognised by a hashed token',
    howLong: `until you sign a device out, then ${days(c.RETENTION_DAYS)}`,
  }),
  visitor: (c) => ({
    what: 'Visitors: name, company, contact, whom they visited, the site notice accepted, and a photo if taken',
    howLong: `${days(c.VISITOR_RETENTION_DAYS)} after the visit, then deleted`,
  }),
  invitation: (c) => ({
    what: 'An invitation an admin sent you to join: your name, the contact it went to, and whether you used it',
    howLong: `${days(c.INVITATION_DAYS)} until the link expires, then ${days(c.RETENTION_DAYS)}, then deleted`,
  }),
  idempotency_key: undefined,
  outbox: undefined,
  job_run: undefined,
}

/** What the register keeps as long as you have an account (no retention rule applies). */
const whileYouHaveAnAccount = [
  'Your name and the email addresses or mobile numbers you verified',
  'Your role (staff, reception, admin), and your organisation sign-in or directory record if your organisation uses one',
  'Roll calls and broadcasts you were part of (whether you were marked safe)',
]

/** The notice shown at /privacy, built from the configuration the purge itself uses. */
export function privacyNotice(config: Config): PrivacyNotice {
  const custom = config.PRIVACY_NOTICE_FILE
    ? readFileSync(config.PRIVACY_NOTICE_FILE, 'utf8')
        .split(/\r?\n\s*\r?\n/)
        .map((p) => p.trim())
        .filter(Boolean)
    : undefined
  const kept = Object.values(RETENTION_NOTICE)
    .filter((item) => item !== undefined)
    .map((item) => item(config))
  for (const what of whileYouHaveAnAccount) kept.push({ what, howLong: 'while you have an account' })
  return { custom, kept, contact: config.PRIVACY_CONTACT }
}
