import { EventEmitter } from 'node:events'

/**
 * How live events travel between processes: Redis pub/sub in the production tier, nothing at all
 * in the embedded one (a single process hears its own events through the emitter).
 */
export interface LiveTransport {
  /** Sends a message to every other process listening on the channel (never fails the caller). */
  publish(channel: string, message: string): void
  /**
   * Hands every message another process published on `channel` to `listener`. A message the
   * listener cannot read (it throws: another version mid-deploy, a stray PUBLISH) is logged and
   * heard as a change missed: hearing listeners are told true, so boards refresh.
   */
  subscribe(channel: string, listener: (message: string) => void): void
  /**
   * Hears when this process stops hearing other processes (false) and when it hears all of them
   * again (true), and (true again) when another process could not publish a change. Pub/sub keeps
   * nothing for a listener that is away: whoever shows live data must fetch it afresh on true.
   */
  onHearing(listener: (hearing: boolean) => void): void
}

/**
 * A typed live event channel. `emit('change', …)` tells this process's listeners at once and every
 * other process through the transport, so a tap on one web process reaches the boards open on all
 * of them; listeners use the emitter API they always did (`on`, `off`, `listenerCount`).
 * `hearing` says whether changes made in other processes reach this one now; the `hearing` event
 * says when that changes, or that a change was missed (true: changes may have been missed, refresh).
 */
export class LiveTopic<Change extends object> extends EventEmitter<{ change: [Change]; hearing: [boolean] }> {
  /** True when every change, whichever process makes it, is heard here (always, in one process). */
  hearing: boolean

  constructor(
    private readonly channel: string,
    private readonly transport?: LiveTransport,
  ) {
    super()
    // Every open board and stream holds a listener.
    this.setMaxListeners(0)
    this.hearing = !transport
    transport?.subscribe(channel, (message) => {
      const change: unknown = JSON.parse(message)
      // Throws what is not a change: the transport treats it as a change missed (LiveTransport).
      if (typeof change !== 'object' || change === null)
        throw new Error('a live message that is not a change')
      super.emit('change', change as Change)
    })
    transport?.onHearing((hearing) => {
      this.hearing = hearing
      super.emit('hearing', hearing)
    })
  }

  /** Announces a change here and, through the transport, in every other process. */
  override emit(event: 'change', change: Change): boolean
  /** Tells this process's listeners whether changes from other processes are heard (transport only). */
  override emit(event: 'hearing', hearing: boolean): boolean
  override emit(event: 'change' | 'hearing', arg: Change | boolean): boolean {
    if (event === 'hearing') return super.emit(event, arg as boolean)
    this.transport?.publish(this.channel, JSON.stringify(arg))
    return super.emit(event, arg as Change)
  }
}
