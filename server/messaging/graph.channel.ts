import {
  ConfidentialClientApplication,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
  ServerError,
} from '@azure/msal-node'
import { Client, GraphError, HTTPMessageHandler } from '@microsoft/microsoft-graph-client'
import type { Channel, OutgoingMessage, SendResult } from './channel.js'
import { DeliveryError, retryAfterMs } from './channel.js'

/** Microsoft 365 settings: an Entra app registration with the Mail.Send application permission. */
export interface GraphSettings {
  tenantId: string
  clientId: string
  clientSecret: string
  /** The mailbox emails are sent from (user principal name or address). */
  sender: string
  /** Graph's origin; only tests change it (a local fake). */
  apiBaseUrl?: string
  /** The Microsoft identity platform's origin; only tests change it (a local fake). */
  loginBaseUrl?: string
  /** Per request, in ms. */
  timeoutMs?: number
}

const GRAPH_ORIGIN = 'https://graph.microsoft.com'
const LOGIN_ORIGIN = 'https://login.microsoftonline.com'

/**
 * MSAL's network module, sending to another origin (tests). MSAL insists on an https authority,
 * so the authority stays the real one and only the wire moves.
 */
class RebasedNetworkClient implements INetworkModule {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'GET', options, timeout)
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'POST', options)
  }

  private async send<T>(
    url: string,
    method: string,
    options: NetworkRequestOptions = {},
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const original = new URL(url)
    const response = await fetch(new URL(original.pathname + original.search, this.baseUrl), {
      method,
      headers: options.headers,
      body: options.body,
      signal: AbortSignal.timeout(timeout ?? this.timeoutMs),
    })
    const headers: Record<string, string> = {}
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value
    })
    const text = await response.text()
    return { status: response.status, headers, body: (text ? JSON.parse(text) : {}) as T }
  }
}

const addressProblem = "We couldn't send an email to that address — check it or use your mobile number."
const serviceProblem = "We couldn't send an email just now — try again in a minute or use your mobile number."

/**
 * Email through Microsoft Graph: POST /users/{sender}/sendMail with an app-only token from MSAL's
 * client credentials flow, not kept in Sent Items. A refused token is renewed once.
 */
export function graphChannel(settings: GraphSettings): Channel {
  const timeoutMs = settings.timeoutMs ?? 5_000
  const msal = new ConfidentialClientApplication({
    auth: {
      clientId: settings.clientId,
      clientSecret: settings.clientSecret,
      authority: `${LOGIN_ORIGIN}/${settings.tenantId}`,
    },
    system: {
      disableInternalRetries: true,
      ...(settings.loginBaseUrl && settings.loginBaseUrl !== LOGIN_ORIGIN
        ? { networkClient: new RebasedNetworkClient(settings.loginBaseUrl, timeoutMs) }
        : {}),
    },
  })
  // MSAL answers from its cache until the token nears expiry. The token is fetched outside the
  // Graph client (which would wrap MSAL's errors in its own) and set on each request.
  const accessToken = async (skipCache: boolean) => {
    const result = await msal.acquireTokenByClientCredential({
      scopes: ['https://graph.microsoft.com/.default'],
      skipCache,
    })
    if (!result?.accessToken) throw new Error('Microsoft identity platform returned no token')
    return result.accessToken
  }
  // Our own middleware chain: no SDK retry handler, whose waits (up to minutes) would outlast the
  // Messenger's time budget; the Messenger retries instead.
  const client = Client.initWithMiddleware({
    baseUrl: settings.apiBaseUrl ?? GRAPH_ORIGIN,
    defaultVersion: 'v1.0',
    middleware: [new HTTPMessageHandler()],
  })

  const sendOnce = async (message: OutgoingMessage, token: string) => {
    await client
      .api(`/users/${encodeURIComponent(settings.sender)}/sendMail`)
      .header('Authorization', `Bearer ${token}`)
      .options({ signal: AbortSignal.timeout(timeoutMs) })
      .post({
        message: {
          subject: message.subject,
          body: message.html
            ? { contentType: 'HTML', content: message.html }
            : { contentType: 'Text', content: message.text },
          toRecipients: [{ emailAddress: { address: message.to.value } }],
        },
        saveToSentItems: false,
      })
  }

  return {
    name: 'graph',
    kinds: ['email'],
    async send(message: OutgoingMessage): Promise<SendResult> {
      try {
        try {
          await sendOnce(message, await accessToken(false))
        } catch (error) {
          if (!(error instanceof GraphError) || error.statusCode !== 401) throw error
          // An expired or revoked token: ask for a new one, once.
          await sendOnce(message, await accessToken(true))
        }
        // Graph accepts with 202 and no id; delivery reports come back to the mailbox, not to us.
        return { status: 'sent' }
      } catch (error) {
        throw deliveryError(error)
      }
    },
  }
}

function deliveryError(error: unknown): DeliveryError {
  if (error instanceof GraphError) {
    const detail = `Graph ${error.statusCode} ${error.code ?? ''}: ${error.message}`.replace(/\s+/g, ' ')
    const status = error.statusCode
    if (status === 429 || status >= 500) {
      return new DeliveryError(serviceProblem, false, {
        detail,
        retryAfterMs: retryAfterMs(error.headers?.get('retry-after')),
      })
    }
    if (status === -1 || status === undefined) {
      return new DeliveryError(serviceProblem, false, { detail })
    }
    if (status === 400 && /Recipient|InvalidRecipients|ErrorInvalidEmailAddress/i.test(`${error.code}`)) {
      return new DeliveryError(addressProblem, true, { detail })
    }
    // 401 after a fresh token, 403 (no Mail.Send, or an access policy), 404 (no such sender): our setup.
    return new DeliveryError(serviceProblem, false, { detail, retryable: false })
  }
  if (error instanceof ServerError) {
    // The identity platform refused our credentials (wrong secret, expired secret, unknown tenant).
    return new DeliveryError(serviceProblem, false, {
      detail: `Entra token: ${error.errorCode}`,
      retryable: false,
    })
  }
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  return new DeliveryError(serviceProblem, false, { detail: `Graph unreachable: ${text}` })
}
