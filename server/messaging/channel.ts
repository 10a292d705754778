import type { ContactKind } from '../db/database.js'

/** Why a message is sent; recorded with it and used to pick its template. */
export type MessagePurpose =
  | 'login-code'
  | 'add-contact-code'
  | 'reminder'
  | 'broadcast'
  | 'webhook-disabled'
  | 'sms-budget'
  | 'visitor-arrived'
  | 'visitor-still-in'
  | 'invitation'
  | 'visitor-invitation'

/** One rendered message to one contact. */
export interface OutgoingMessage {
  to: { kind: ContactKind; value: string }
  purpose: MessagePurpose
  subject: string
  text: string
  html?: string
  /** The message log row, when the send is recorded (lets providers report back on it). */
  id?: number
}

/** What a provider said when it accepted a message: its own id and, if it knows, a first status. */
export interface SendResult {
  providerId?: string
  status?: 'queued' | 'sent'
}

/** Something that can deliver messages to contacts of some kinds (SMS, email, the console). */
export interface Channel {
  readonly name: string
  readonly kinds: readonly ContactKind[]
  /** One attempt; the Messenger retries transient DeliveryErrors within a bounded time. */
  send(message: OutgoingMessage): Promise<SendResult>
}

/** Details of a delivery failure for the log and the admin page, never shown to the person. */
export interface DeliveryErrorOptions {
  /** The provider's own words (error code and message), for the message log. */
  detail?: string
  /** A transient failure the provider asked us to retry no sooner than this. */
  retryAfterMs?: number
  /** False when retrying cannot help (e.g. our credentials are refused); defaults to !permanent. */
  retryable?: boolean
}

/**
 * Thrown by a channel when a message could not be delivered; the message is for the person.
 * Permanent means the contact itself is the problem (wrong or unreachable number); otherwise the
 * provider or our side is (down, rate limited, misconfigured) and trying later may work.
 */
export class DeliveryError extends Error {
  readonly detail: string | undefined
  readonly retryAfterMs: number | undefined
  readonly retryable: boolean

  constructor(
    message: string,
    public readonly permanent: boolean,
    options: DeliveryErrorOptions = {},
  ) {
    super(message)
    this.name = 'DeliveryError'
    this.detail = options.detail
    this.retryAfterMs = options.retryAfterMs
    this.retryable = options.retryable ?? !permanent
  }
}

/** Reads an HTTP Retry-After header (seconds or a date) as milliseconds from now. */
export function retryAfterMs(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
