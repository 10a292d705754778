import type { Channel, OutgoingMessage } from '../messaging/channel.js'
import { consoleChannel } from '../messaging/console.channel.js'

/**
 * A channel that throws "provider timed out" for the messages `fails` picks (it decides per call,
 * so it can fail once and then succeed) and prints the rest as the console channel does.
 */
export function flakyChannel(
  print: (line: string) => void,
  fails: (message: OutgoingMessage) => boolean,
): Channel {
  const console = consoleChannel({ info: print })
  return {
    name: 'flaky',
    kinds: ['email', 'phone'],
    async send(message) {
      if (fails(message)) throw new Error('provider timed out')
      return console.send(message)
    },
  }
}
