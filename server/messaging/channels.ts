import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../config.js'
import type { Channel } from './channel.js'
import { consoleChannel } from './console.channel.js'
import { TWILIO_STATUS_PATH } from './twilio-status-path.js'

/**
 * The channels the configuration enables: Twilio for texts, Microsoft Graph for email; with
 * neither, the console channel serves both so a fresh install works without any account. The
 * provider SDKs are loaded only when configured (together they weigh ~50 MB of memory).
 */
export async function channelsFromConfig(
  config: Config,
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>,
): Promise<Channel[]> {
  const channels: Channel[] = []
  if (config.TWILIO_ACCOUNT_SID && config.TWILIO_AUTH_TOKEN) {
    const { twilioChannel } = await import('./twilio.channel.js')
    channels.push(
      twilioChannel({
        accountSid: config.TWILIO_ACCOUNT_SID,
        authToken: config.TWILIO_AUTH_TOKEN,
        messagingServiceSid: config.TWILIO_MESSAGING_SERVICE_SID,
        from: config.TWILIO_FROM,
        statusCallbackUrl: `${config.PUBLIC_URL}${TWILIO_STATUS_PATH}`,
        apiBaseUrl: config.TWILIO_API_BASE_URL,
      }),
    )
  }
  if (config.GRAPH_TENANT_ID && config.GRAPH_CLIENT_ID && config.GRAPH_CLIENT_SECRET && config.GRAPH_SENDER) {
    const { graphChannel } = await import('./graph.channel.js')
    channels.push(
      graphChannel({
        tenantId: config.GRAPH_TENANT_ID,
        clientId: config.GRAPH_CLIENT_ID,
        clientSecret: config.GRAPH_CLIENT_SECRET,
        sender: config.GRAPH_SENDER,
        apiBaseUrl: config.GRAPH_API_BASE_URL,
        loginBaseUrl: config.GRAPH_LOGIN_BASE_URL,
      }),
    )
  }
  if (channels.length > 0) return channels
  // Fine for a first run, but in production nobody could get a code, and codes would be in the log.
  if (config.NODE_ENV === 'production')
    log.warn(
      'No SMS or email provider is configured: every message, login codes included, is written to this log instead of sent. Set TWILIO_* and/or GRAPH_* (README, "Configuration").',
    )
  return [consoleChannel(log)]
}
