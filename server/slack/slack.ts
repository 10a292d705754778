import { createHash } from 'node:crypto'
import type { Config } from '../config.js'
import type { OutboxTopic } from '../db/database.js'

/** A stable, non-secret name for a webhook URL (the URL itself is a credential). */
export function slackTarget(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16)
}

/** The webhooks an outbox topic goes to: every event to SLACK_WEBHOOK_URLS, digests to their own list. */
export function slackUrlsFor(
  config: Pick<Config, 'SLACK_WEBHOOK_URLS' | 'SLACK_DIGEST_WEBHOOK_URLS'>,
  topic: OutboxTopic,
): string[] {
  if (topic === 'presence') return config.SLACK_WEBHOOK_URLS
  return config.SLACK_DIGEST_WEBHOOK_URLS.length
    ? config.SLACK_DIGEST_WEBHOOK_URLS
    : config.SLACK_WEBHOOK_URLS
}

/** Every configured webhook by target name. */
export function slackUrlsByTarget(
  config: Pick<Config, 'SLACK_WEBHOOK_URLS' | 'SLACK_DIGEST_WEBHOOK_URLS'>,
): Map<string, string> {
  return new Map(
    [...config.SLACK_WEBHOOK_URLS, ...config.SLACK_DIGEST_WEBHOOK_URLS].map((url) => [slackTarget(url), url]),
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
 * Posts one message to an incoming webhook. Throws SlackRateLimitedError on 429,
 * SlackRejectedError on other 4xx (retrying will not help), and a plain Error otherwise.
 */
export async function postToSlack(url: string, text: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
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
