import { join } from 'node:path'
import { Eta } from 'eta'
import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../db/connect.js'
import type { ContactKind } from '../db/database.js'
import { maskContact } from '../identity/contact.js'
import { findContactByValue } from '../identity/contact.repository.js'
import { type Clock, systemClock } from '../lib/site-time.js'
import { viewsDir } from '../paths.js'
import type { Channel, MessagePurpose, OutgoingMessage, SendResult } from './channel.js'
import { DeliveryError } from './channel.js'
import { finishMessage, insertMessage } from './message.repository.js'

/** What every message template can use. */
export interface MessageSite {
  siteName: string
  publicUrl: string
}

/** How hard to try a transient failure: a few attempts, exponential backoff, a hard time limit. */
export interface RetryPolicy {
  attempts: number
  /** Total time for all attempts and waits; Retry-After beyond it means giving up now. */
  budgetMs: number
  /** The wait after the first failure; doubled after each further one. */
  baseDelayMs: number
}

/** At most 3 attempts within 8 seconds: a person is waiting on the login page. */
export const defaultRetryPolicy: RetryPolicy = { attempts: 3, budgetMs: 8_000, baseDelayMs: 500 }

/** Where sends are recorded and logged; without a database nothing is recorded. */
export interface MessengerOptions {
  db?: Db
  clock?: Clock
  log?: Pick<FastifyBaseLogger, 'info' | 'warn'>
  retry?: RetryPolicy
}

/** What happened to a sent message. */
export interface SentMessage extends SendResult {
  channel: string
  /** The message log row, when recorded. */
  messageId?: number
  attempts: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Renders message templates and hands them to the channel that serves the contact's kind,
 * retrying transient failures, and records every send in the message log.
 */
export class Messenger {
  // Plain text keeps every line break as written (a subject line ends at its tag).
  private readonly text = new Eta({
    views: join(viewsDir, 'messages'),
    autoEscape: false,
    autoTrim: false,
    cache: true,
  })
  private readonly html = new Eta({ views: join(viewsDir, 'messages'), autoEscape: true, cache: true })
  private readonly retry: RetryPolicy
  private readonly clock: Clock

  constructor(
    private readonly channels: readonly Channel[],
    private readonly site: MessageSite,
    private readonly options: MessengerOptions = {},
  ) {
    this.retry = options.retry ?? defaultRetryPolicy
    this.clock = options.clock ?? systemClock
  }

  /** The contact kinds some enabled channel can reach (the login page offers exactly these). */
  get kinds(): ContactKind[] {
    return [...new Set(this.channels.flatMap((c) => c.kinds))]
  }

  /** The names of the enabled channels, e.g. ['twilio', 'graph'] or ['console']. */
  get channelNames(): string[] {
    return this.channels.map((c) => c.name)
  }

  /** Renders `<purpose>.<kind>.eta` (and `.html.eta` for email) and sends it. */
  async send(
    to: { kind: ContactKind; value: string },
    purpose: MessagePurpose,
    data: Record<string, unknown>,
  ): Promise<SentMessage> {
    const channel = this.channels.find((c) => c.kinds.includes(to.kind))
    if (!channel) throw new DeliveryError(`We cannot send messages by ${to.kind} on this site.`, true)
    const host = new URL(this.site.publicUrl).host
    const context = { ...data, ...this.site, host }
    const text = this.text.render(`./${purpose}.${to.kind}.eta`, context).trim()
    const [subject, ...body] = to.kind === 'email' ? text.split('\n') : ['', text]
    const message: OutgoingMessage = {
      to,
      purpose,
      subject: (subject ?? '').replace(/^Subject:\s*/, ''),
      text: to.kind === 'email' ? body.join('\n').trim() : text,
      html: to.kind === 'email' ? this.html.render(`./${purpose}.html.eta`, context) : undefined,
    }

    const { db } = this.options
    if (db) {
      const owner = await findContactByValue(db, to.value)
      message.id = await insertMessage(db, {
        channel: channel.name,
        contactKind: to.kind,
        contactValue: to.value,
        personId: owner?.person_id ?? null,
        purpose,
        at: this.clock.now(),
      })
    }
    const logged = { messageId: message.id, channel: channel.name, to: maskContact(to.value), purpose }

    let attempts = 0
    try {
      const result = await this.attempt(channel, message, () => attempts++)
      if (db && message.id !== undefined) {
        await finishMessage(db, message.id, {
          status: result.status ?? 'sent',
          providerId: result.providerId,
          attempts,
          at: this.clock.now(),
        })
      }
      this.options.log?.info({ ...logged, attempts, providerId: result.providerId }, 'message handed over')
      return { channel: channel.name, messageId: message.id, attempts, ...result }
    } catch (error) {
      // Providers quote the number back in their errors; the log and admin page show it masked.
      const raw = error instanceof DeliveryError ? (error.detail ?? error.message) : String(error)
      const detail = raw.split(to.value).join(maskContact(to.value)).slice(0, 500)
      if (db && message.id !== undefined) {
        await finishMessage(db, message.id, {
          status: 'failed',
          error: detail,
          attempts,
          at: this.clock.now(),
        })
      }
      this.options.log?.warn({ ...logged, attempts, error: detail }, 'message not delivered')
      if (error instanceof DeliveryError) throw error
      throw new DeliveryError(
        `We couldn't send a message to ${to.kind === 'phone' ? 'that number' : 'that address'} just now. Please try again in a minute.`,
        false,
        { detail },
      )
    }
  }

  /** Tries the channel, waiting between transient failures, within the policy's time budget. */
  private async attempt(channel: Channel, message: OutgoingMessage, count: () => void): Promise<SendResult> {
    const started = Date.now()
    for (let n = 1; ; n++) {
      count()
      const left = this.retry.budgetMs - (Date.now() - started)
      try {
        return await withDeadline(channel.send(message), left, channel.name)
      } catch (error) {
        if (!(error instanceof DeliveryError) || !error.retryable || n >= this.retry.attempts) throw error
        const backoff = this.retry.baseDelayMs * 2 ** (n - 1)
        const wait = Math.max(backoff, error.retryAfterMs ?? 0)
        if (Date.now() - started + wait >= this.retry.budgetMs) throw error
        await sleep(wait)
      }
    }
  }
}

/** A send that has not answered when the time budget runs out counts as a transient failure. */
async function withDeadline<T>(promise: Promise<T>, ms: number, channel: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DeliveryError(
            'The message service did not answer in time. Please try again in a minute.',
            false,
            {
              detail: `${channel}: no answer within the time limit`,
              retryable: false,
            },
          ),
        ),
      Math.max(0, ms),
    )
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
