import type { Config } from '../config.js'
import { retryAfterMs, SlackRateLimitedError, SlackRejectedError } from '../slack/slack.js'

/** The Adaptive Card version Teams Workflows and incoming webhooks render. */
const CARD_VERSION = '1.4'

/**
 * A Teams message carrying one Adaptive Card with the text (plain, never read as Markdown), the
 * shape Teams Workflows' "post to a channel when a webhook request is received" and the classic
 * incoming webhooks accept.
 */
export function teamsCard(text: string, siteName: string) {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: CARD_VERSION,
          body: [
            {
              type: 'TextBlock',
              text: siteName,
              weight: 'Bolder',
              size: 'Small',
              isSubtle: true,
              wrap: true,
            },
            // Teams reads a TextBlock as Markdown ("[Reset](https://…)" in a visitor's name would be
            // a link); a TextRun is shown as it is.
            { type: 'RichTextBlock', inlines: [{ type: 'TextRun', text }] },
          ],
        },
      },
    ],
  }
}

/** True when a chat webhook URL is one of the configured Teams URLs. */
export function isTeamsUrl(
  config: Pick<Config, 'TEAMS_WEBHOOK_URLS' | 'TEAMS_DIGEST_WEBHOOK_URLS'>,
  url: string,
): boolean {
  return config.TEAMS_WEBHOOK_URLS.includes(url) || config.TEAMS_DIGEST_WEBHOOK_URLS.includes(url)
}

/**
 * Posts one Adaptive Card to a Teams webhook (Workflows answer 202, classic webhooks 200). Throws
 * the same errors as the Slack post: rate limited (429, honouring Retry-After), refused for good
 * (other 4xx), or a plain Error to retry.
 */
export async function postToTeams(url: string, text: string, siteName: string): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(teamsCard(text, siteName)),
    signal: AbortSignal.timeout(10_000),
  })
  const body = await response.text()
  if (response.ok) return
  if (response.status === 429)
    throw new SlackRateLimitedError(retryAfterMs(response.headers.get('retry-after')))
  if (response.status >= 400 && response.status < 500)
    throw new SlackRejectedError(response.status, body.slice(0, 100))
  throw new Error(`Teams answered ${response.status}`)
}
