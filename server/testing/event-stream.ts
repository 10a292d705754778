import type { TestContext } from 'node:test'

/** One server-sent event as a browser's EventSource would dispatch it. */
export interface StreamEvent {
  event: string
  data: string
  /** When it arrived (epoch ms, this process's clock). */
  at: number
}

/** An open server-sent event stream that remembers every event it has received. */
export interface EventStream {
  /** Every event received so far, oldest first. */
  readonly events: readonly StreamEvent[]
  /** The first event (counting from the `from`-th) that matches, or undefined after `ms`. */
  next(match: (e: StreamEvent) => boolean, from?: number, ms?: number): Promise<StreamEvent | undefined>
}

/**
 * Opens `url` with the cookie, checks that it answers an event stream, and reads it in the
 * background until the test ends (or the server ends it).
 */
export async function openEventStream(t: TestContext, url: string, cookie: string): Promise<EventStream> {
  const abort = new AbortController()
  t.after(() => abort.abort())
  const response = await fetch(url, {
    headers: { cookie, accept: 'text/event-stream' },
    signal: abort.signal,
  })
  if (response.status !== 200 || !response.headers.get('content-type')?.startsWith('text/event-stream'))
    throw new Error(`${url} answered ${response.status} ${response.headers.get('content-type')}`)
  const events: StreamEvent[] = []
  const waiters = new Set<() => void>()
  void (async () => {
    const decoder = new TextDecoder()
    let buffer = ''
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true })
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.+)$/m.exec(block)?.[1] ?? 'message'
          const data = /^data: (.*)$/m.exec(block)?.[1]
          // Like EventSource: comments and blocks without data dispatch nothing.
          if (data !== undefined) events.push({ event, data, at: Date.now() })
          for (const wake of waiters) wake()
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })()
  return {
    events,
    async next(match, from = 0, ms = 20_000) {
      const deadline = Date.now() + ms
      for (;;) {
        const found = events.slice(from).find(match)
        if (found) return found
        const left = deadline - Date.now()
        if (left <= 0) return undefined
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake)
            clearTimeout(timer)
            resolve()
          }
          const timer = setTimeout(wake, left)
          waiters.add(wake)
        })
      }
    },
  }
}
