import { createHash } from 'node:crypto'
import type { Config } from '../config.js'
import type { OutboxTopic } from '../db/database.js'

/** A stable, non-secret name for a webhook URL (the URL itself is a credential). */
export function slackTarget(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16)
}

/** The chat webhook settings: Slack's and Microsoft Teams' (same posts, their own payloads). */
type ChatConfig = Pick<
  Config,
  'SLACK_WEBHOOK_URLS' | 'SLACK_DIGEST_WEBHOOK_URLS' | 'TEAMS_WEBHOOK_URLS' | 'TEAMS_DIGEST_WEBHOOK_URLS'
>

/**
 * The webhooks an outbox topic goes to: every event (sign-ins and outs, visitors' arrivals) to
 * SLACK_WEBHOOK_URLS, digests to their own list (or the first when it is empty); the same for Teams.
 */
export function slackUrlsFor(config: ChatConfig, topic: OutboxTopic): string[] {
  const pick = (all: string[], digest: string[]) => (topic !== 'digest' ? all : digest.length ? digest : all)
  return [
    ...pick(config.SLACK_WEBHOOK_URLS, config.SLACK_DIGEST_WEBHOOK_URLS),
    ...pick(config.TEAMS_WEBHOOK_URLS, config.TEAMS_DIGEST_WEBHOOK_URLS),
  ]
}

/** Every configured chat webhook (Slack and Teams) by target name. */
export function slackUrlsByTarget(config: ChatConfig): Map<string, string> {
  return new Map(
    [
      ...config.SLACK_WEBHOOK_URLS,
      ...config.SLACK_DIGEST_WEBHOOK_URLS,
      ...config.TEAMS_WEBHOOK_URLS,
      ...config.TEAMS_DIGEST_WEBHOOK_URLS,
    ].map((url) => [slackTarget(url), url]),
  )
}

const people = (n: number) => (n === 1 ? '1 person' : `${n} people`)

/** "Alice Smith signed in · 12 people in the building" (or only the count, in anonymous mode). */
export function presenceText(
  event: { action: 'signed-in' | 'signed-out'; inside: number },
  name: string | null,
): string {
  const count = `${people(event.inside)} in the building`
  if (name === null) return `Someone ${event.action === 'signed-in' ? 'signed in' : 'signed out'} · ${count}`
  return `${name} ${event.action === 'signed-in' ? 'signed in' : 'signed out'} · ${count}`
}

/** A visitor's arrival as posted: who, from where, for whom, at which entrance; null names in anonymous mode. */
export interface VisitorArrivalFacts {
  visitor: string | null
  company: string
  host: string | null
  /** The kiosk, reception, or null (checked in by their invitation link). */
  entrance: string | null
}

/**
 * "Vera Visitor (Acme Ltd) arrived for Zoë Hôst at North door"; in anonymous mode (no names) only
 * "A visitor arrived at North door", like "Someone signed in".
 */
export function visitorArrivalText(facts: VisitorArrivalFacts): string {
  const where = facts.entrance ? ` at ${facts.entrance}` : ''
  if (facts.visitor === null) return `A visitor arrived${where}`
  const who = facts.company ? `${facts.visitor} (${facts.company})` : facts.visitor
  return `${who} arrived${facts.host ? ` for ${facts.host}` : ''}${where}`
}

/** "12 people in the building". */
export function digestText(inside: number): string {
  return `${people(inside)} in the building`
}

/** Slack answered 429: try this webhook again after `retryAfterMs`. */
export class SlackRateLimitedError extends Error {
  constructor(public readonly retryAfterMs: number) {
    super(`Slack rate limited this webhook; retry after ${retryAfterMs} ms`)
    this.name = 'SlackRateLimitedError'
  }
}

/** Slack refused the post for good (revoked or unknown webhook, malformed payload). */
export class SlackRejectedError extends Error {
  constructor(
    public readonly status: number,
    detail: string,
  ) {
    super(`Slack refused the post (${status} ${detail})`)
    this.name = 'SlackRejectedError'
  }
}

/** Reads Retry-After (seconds or an HTTP date) as milliseconds; 30 s when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (header && /^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const date = header ? Date.parse(header) : Number.NaN
  return Number.isNaN(date) ? 30_000 : Math.max(0, date - now)
}

/**
 * Text as Slack shows it: & < > escaped, the only characters its messages read as markup, so a name
 * such as "<!channel>" or "<https://x|Click>" is shown as typed, never a mention or a disguised link.
 */
export function slackEscape(text: string): string {
  return text.replace(/[&<>]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : '&gt;'))
}

/**
 * Posts one message (plain text, escaped here, no link previews) to an incoming webhook. Throws SlackRateLimitedError on 429,
 * SlackRejectedError on other 4xx (retrying will not help), and a plain Error otherwise.
 */
export async function postToSlack(url: string, text: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // A web address a visitor typed as their name must not become a preview card in the channel.
    body: JSON.stringify({ text: slackEscape(text), unfurl_links: false, unfurl_media: false }),
    signal: AbortSignal.timeout(10_000),
  })
  const body = await response.text()
  if (response.ok) return
  if (response.status === 429)
    throw new SlackRateLimitedError(retryAfterMs(response.headers.get('retry-after')))
  if (response.status >= 400 && response.status < 500)
    throw new SlackRejectedError(response.status, body.slice(0, 100))
  throw new Error(`Slack answered ${response.status}`)
}
