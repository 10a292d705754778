import twilio from 'twilio'
import type RequestClient from 'twilio/lib/base/RequestClient.js'
import type TwilioResponse from 'twilio/lib/http/response.js'
import type { Channel, OutgoingMessage, SendResult } from './channel.js'
import { DeliveryError, retryAfterMs } from './channel.js'

/** Twilio settings; exactly one of messagingServiceSid and from. */
export interface TwilioSettings {
  accountSid: string
  authToken: string
  messagingServiceSid?: string
  /** An E.164 number or an alphanumeric sender ID. */
  from?: string
  /** Where status callbacks go: PUBLIC_URL + /webhooks/twilio/status. */
  statusCallbackUrl: string
  /** Twilio's API origin; only tests change it (a local fake). */
  apiBaseUrl?: string
  /** Per request, in ms. */
  timeoutMs?: number
}

/** The path Twilio posts delivery reports to. */
export { TWILIO_STATUS_PATH } from './twilio-status-path.js'

/** A 429 or 5xx from Twilio: the SDK would turn it into a RestException without its Retry-After. */
class TwilioUnavailable extends Error {
  constructor(
    readonly status: number,
    readonly retryAfter: string | undefined,
  ) {
    super(`Twilio answered HTTP ${status}`)
  }
}

/**
 * The SDK's own HTTP client, sending to another origin when configured (tests) and keeping the
 * Retry-After of throttled and failed requests, which the SDK's exceptions drop.
 */
class TwilioHttpClient extends twilio.RequestClient {
  constructor(
    private readonly baseUrl: string | undefined,
    timeoutMs: number,
  ) {
    super({ timeout: timeoutMs, autoRetry: false })
  }

  override async request<TData>(
    opts: RequestClient.RequestOptions<TData>,
  ): Promise<TwilioResponse.default<TData>> {
    const uri = this.baseUrl ? rebase(opts.uri, this.baseUrl) : opts.uri
    const response = await super.request({ ...opts, uri })
    if (response.statusCode === 429 || response.statusCode >= 500) {
      const header = response.headers?.['retry-after']
      throw new TwilioUnavailable(response.statusCode, header === undefined ? undefined : String(header))
    }
    return response
  }
}

function rebase(uri: string, baseUrl: string): string {
  const original = new URL(uri)
  const base = new URL(baseUrl)
  return new URL(original.pathname + original.search, base).href
}

// Errors about the number itself: the person can fix these by typing another one.
// https://www.twilio.com/docs/api/errors
const numberErrors = new Set([
  21211, // invalid 'To' number
  21214, // 'To' number cannot be reached
  21217, // phone number does not appear to be valid
  21401, // invalid phone number
  21407, // this phone number type does not support SMS
  21408, // permission to send to this region is not enabled
  21610, // the person replied STOP
  21612, // cannot route to this number
  21614, // 'To' number is not a valid mobile number
  21635, // 'To' number cannot be reached (landline)
  30003, // unreachable destination handset
  30005, // unknown destination handset
  30006, // landline or unreachable carrier
])

const numberProblem = "We couldn't send a text to that number — check it or use email."
const serviceProblem = "We couldn't send a text just now — try again in a minute or use email."

/** SMS through Twilio's Messages API, with a status callback per message. */
export function twilioChannel(settings: TwilioSettings): Channel {
  const client = twilio(settings.accountSid, settings.authToken, {
    httpClient: new TwilioHttpClient(settings.apiBaseUrl, settings.timeoutMs ?? 5_000),
  })
  return {
    name: 'twilio',
    kinds: ['phone'],
    async send(message: OutgoingMessage): Promise<SendResult> {
      const callback = new URL(settings.statusCallbackUrl)
      if (message.id !== undefined) callback.searchParams.set('m', String(message.id))
      try {
        const sent = await client.messages.create({
          to: message.to.value,
          body: message.text,
          statusCallback: callback.href,
          ...(settings.messagingServiceSid
            ? { messagingServiceSid: settings.messagingServiceSid }
            : { from: settings.from! }),
        })
        return { providerId: sent.sid, status: sent.status === 'sent' ? 'sent' : 'queued' }
      } catch (error) {
        throw deliveryError(error)
      }
    },
  }
}

function deliveryError(error: unknown): DeliveryError {
  if (error instanceof TwilioUnavailable) {
    return new DeliveryError(serviceProblem, false, {
      detail: error.message,
      retryAfterMs: retryAfterMs(error.retryAfter),
    })
  }
  if (error instanceof twilio.RestException) {
    const detail = `Twilio ${error.code ?? error.status}: ${error.message}`
    if (error.code !== undefined && numberErrors.has(error.code)) {
      return new DeliveryError(numberProblem, true, { detail })
    }
    // 401/403 and other 4xx: our account or sender is wrong; no retry and no blame on the number.
    return new DeliveryError(serviceProblem, false, { detail, retryable: false })
  }
  // Network failures and timeouts (the SDK's axios errors).
  const code = error && typeof error === 'object' && 'code' in error ? String(error.code) : ''
  const text = error instanceof Error ? error.message : String(error)
  return new DeliveryError(serviceProblem, false, { detail: `Twilio unreachable: ${code} ${text}`.trim() })
}
