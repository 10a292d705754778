import type { Server } from 'node:http'
import { close, listen } from './fake-http.js'

/** One envelope item Sentry's SDK sent: its header and its JSON payload. */
export interface SentryItem {
  type: string
  payload: Record<string, unknown>
}

/**
 * A Sentry ingestion endpoint on this machine: accepts envelopes at /api/<project>/envelope/ (the
 * wire format the official SDK speaks: newline-separated JSON, envelope header, then item header
 * and payload pairs), keeps every item with the headers it came with.
 */
export class FakeSentry {
  readonly items: SentryItem[] = []
  readonly requests: { url: string; headers: Record<string, unknown>; body: string }[] = []
  private server: Server | undefined
  dsn = ''

  async start(): Promise<this> {
    const { server, url } = await listen((request, body, response) => {
      if (request.headers['content-encoding']) throw new Error('compressed envelopes are not expected here')
      this.requests.push({ url: request.url ?? '', headers: request.headers, body })
      const lines = body.split('\n').filter(Boolean)
      for (let i = 1; i + 1 < lines.length; i += 2) {
        const header = JSON.parse(lines[i]!) as { type: string }
        this.items.push({ type: header.type, payload: JSON.parse(lines[i + 1]!) })
      }
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end('{}')
    })
    this.server = server
    this.dsn = `${url.replace('//', '//publickey@')}/42`
    return this
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server)
  }
}
