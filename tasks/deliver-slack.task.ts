import { findPersonById } from '../server/identity/person.repository.js'
import type {
  DigestPayload,
  PresencePayload,
  VisitorArrivalPayload,
} from '../server/outbox/outbox.repository.js'
import { findOutbox, recordDelivery, wasDelivered } from '../server/outbox/outbox.repository.js'
import {
  digestText,
  postToSlack,
  presenceText,
  SlackRateLimitedError,
  SlackRejectedError,
  slackUrlsByTarget,
  visitorArrivalText,
} from '../server/slack/slack.js'
import { isTeamsUrl, postToTeams } from '../server/teams/teams.js'
import { visitorArrivalFacts } from '../server/visitors/host-notice.service.js'
import type { TaskContext } from './task-context.js'

/** The text of an outbox event as posted (names only when SLACK_POST_NAMES is on; a visitor's too). */
export async function slackTextFor(
  ctx: TaskContext,
  event: { topic: string; payload: string },
): Promise<string> {
  if (event.topic === 'digest') return digestText((JSON.parse(event.payload) as DigestPayload).inside)
  if (event.topic === 'visitor-arrival') {
    const { visitorId } = JSON.parse(event.payload) as VisitorArrivalPayload
    const facts = await visitorArrivalFacts(ctx.db, visitorId, ctx.config.SLACK_POST_NAMES)
    // A visitor purged (or erased) before the post went out: say no more than anonymous mode does.
    return visitorArrivalText(facts ?? { visitor: null, company: '', host: null, entrance: 'the building' })
  }
  const payload = JSON.parse(event.payload) as PresencePayload
  let name: string | null = null
  if (ctx.config.SLACK_POST_NAMES) {
    const person = await findPersonById(ctx.db, payload.personId)
    name = person ? `${person.first_name} ${person.last_name}` : null
  }
  return presenceText(payload, name)
}

/** A Slack post that retrying cannot help. (Not BullMQ's class: the web process never loads BullMQ.) */
export class PermanentSlackError extends Error {
  override name = 'PermanentSlackError'
}

/**
 * Posts one outbox event to one webhook, once: a delivery already recorded is skipped, so a
 * retried or duplicated job never posts twice. Throws SlackRateLimitedError on 429 and
 * PermanentSlackError when retrying cannot help (webhook refused or no longer configured); the
 * worker turns that into BullMQ's UnrecoverableError.
 */
export async function deliverSlack(
  ctx: TaskContext,
  job: { outboxId: number; target: string },
): Promise<'delivered' | 'already-delivered' | 'gone'> {
  const event = await findOutbox(ctx.db, job.outboxId)
  if (!event) return 'gone'
  if (await wasDelivered(ctx.db, job.outboxId, job.target)) return 'already-delivered'
  const url = slackUrlsByTarget(ctx.config).get(job.target)
  if (!url) throw new PermanentSlackError(`webhook ${job.target} is no longer configured`)
  try {
    const text = await slackTextFor(ctx, event)
    if (isTeamsUrl(ctx.config, url)) await postToTeams(url, text, ctx.config.SITE_NAME)
    else await postToSlack(url, text)
  } catch (error) {
    if (error instanceof SlackRejectedError) throw new PermanentSlackError(error.message)
    throw error
  }
  await recordDelivery(ctx.db, job.outboxId, job.target, Date.now())
  return 'delivered'
}

/** Slack is still inside a 429 wait (or the 1 s pacing) for a webhook; try again later. */
export class NotYetError extends Error {}

/**
 * The embedded default's delivery (no Redis): posts each event straight from the outbox,
 * at most one message per second per webhook, honouring Retry-After. Returns a hand-on function
 * for relayOutbox: it throws when a webhook must wait, leaving the event for the next pass.
 */
export function inProcessSlackDelivery(
  ctx: TaskContext,
): (event: { id: number }, targets: string[]) => Promise<void> {
  const nextAllowed = new Map<string, number>()
  return async (event, targets) => {
    for (const target of targets) {
      if (await wasDelivered(ctx.db, event.id, target)) continue
      const wait = (nextAllowed.get(target) ?? 0) - Date.now()
      if (wait > 1500) throw new NotYetError(`webhook ${target} must wait ${wait} ms`)
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      try {
        await deliverSlack(ctx, { outboxId: event.id, target })
        nextAllowed.set(target, Date.now() + 1000)
      } catch (error) {
        if (error instanceof SlackRateLimitedError) {
          nextAllowed.set(target, Date.now() + error.retryAfterMs)
          throw new NotYetError(error.message)
        }
        if (error instanceof PermanentSlackError) {
          ctx.log.error({ err: error, outboxId: event.id }, 'Slack post dropped')
          continue
        }
        throw error
      }
    }
  }
}
