import type { FastifyBaseLogger } from 'fastify'
import type { Channel, OutgoingMessage } from './channel.js'

/**
 * The embedded default: writes each message to the server log, one line with the recipient and
 * the whole text, so a developer can read codes without any provider account.
 */
export function consoleChannel(log: Pick<FastifyBaseLogger, 'info'>): Channel {
  return {
    name: 'console',
    kinds: ['email', 'phone'],
    async send(message: OutgoingMessage) {
      const text = message.subject ? `${message.subject}\n${message.text}` : message.text
      log.info(`message to ${message.to.value} (${message.purpose}): ${text.replace(/\s*\n\s*/g, ' | ')}`)
      return {}
    },
  }
}
