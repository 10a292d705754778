import { EventEmitter } from 'node:events'

/**
 * How live events travel between processes: Redis pub/sub in the production tier, nothing at all
 * in the embedded one (a single process hears its own events through the emitter).
 */
export interface LiveTransport {
  /** Sends a message to every other process listening on the channel (never fails the caller). */
  publish(channel: string, message: string): void
  /** Hears messages other processes publish on the channel. */
  subscribe(channel: string, listener: (message: string) => void): void
}

/**
 * A typed live event channel. `emit('change', …)` tells this process's listeners at once and every
 * other process through the transport, so a tap on one web process reaches the boards open on all
 * of them; listeners use the emitter API they always did (`on`, `off`, `listenerCount`).
 */
export class LiveTopic<Change extends object> extends EventEmitter<{ change: [Change] }> {
  constructor(
    private readonly channel: string,
    private readonly transport?: LiveTransport,
  ) {
    super()
    // Every open board and stream holds a listener.
    this.setMaxListeners(0)
    transport?.subscribe(channel, (message) => {
      super.emit('change', JSON.parse(message) as Change)
    })
  }

  /** Announces a change here and, through the transport, in every other process. */
  override emit(event: 'change', change: Change): boolean {
    this.transport?.publish(this.channel, JSON.stringify(change))
    return super.emit(event, change)
  }
}
