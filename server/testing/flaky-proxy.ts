import { once } from 'node:events'
import { connect, createServer, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

/** The request line a chunk starts with, if it starts a request. */
const requestLine = (chunk: Buffer) => /^[A-Z]+ \S+ HTTP\/1\.1/.exec(chunk.toString('latin1'))?.[0]

/** One connection through the proxy: the browser's side, the app's side, what was asked on it. */
interface Pair {
  client: Socket
  upstream: Socket
  /** The request line of the last request sent on this connection ("GET /reception/events HTTP/1.1"). */
  request: string
  silent: boolean
}

/**
 * A TCP proxy between a browser and the app that misbehaves as real networks and platforms do: a
 * connection that goes silent without closing (a phone that lost signal, whose connection still
 * looks open), or every connection dropped and new ones answered 502 (a proxy while the web
 * process restarts).
 */
export class FlakyProxy {
  private mode: 'pass' | 'bad-gateway' = 'pass'
  private readonly pairs = new Set<Pair>()
  /** The request line of each request answered 502 Bad Gateway. */
  readonly badGateways: string[] = []

  private constructor(readonly port: number) {}

  /** Starts a proxy to the port on 127.0.0.1; it is closed when the test ends. */
  static async start(t: TestContext, targetPort: number): Promise<FlakyProxy> {
    let proxy: FlakyProxy | undefined
    const server = createServer((client) => proxy!.accept(client, targetPort))
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address()
    proxy = new FlakyProxy(typeof address === 'object' && address ? address.port : 0)
    t.after(async () => {
      for (const pair of proxy!.pairs) proxy!.drop(pair)
      server.close()
      await once(server, 'close')
    })
    return proxy
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`
  }

  private accept(client: Socket, targetPort: number): void {
    if (this.mode === 'bad-gateway') {
      client.once('data', (chunk: Buffer) => {
        this.badGateways.push(requestLine(chunk) ?? '')
        client.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n')
      })
      client.on('error', () => {})
      return
    }
    const upstream = connect(targetPort, '127.0.0.1')
    const pair: Pair = { client, upstream, request: '', silent: false }
    this.pairs.add(pair)
    client.on('data', (chunk: Buffer) => {
      pair.request = requestLine(chunk) ?? pair.request
      if (!pair.silent) upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!pair.silent) client.write(chunk)
    })
    for (const socket of [client, upstream]) {
      socket.on('error', () => this.drop(pair))
      socket.on('close', () => this.drop(pair))
    }
  }

  private drop(pair: Pair): void {
    this.pairs.delete(pair)
    pair.client.destroy()
    pair.upstream.destroy()
  }

  /**
   * The open connections whose last request started with `request` ("GET /reception/events") pass
   * nothing more either way, and stay open; returns how many. New connections work.
   */
  silence(request: string): number {
    let n = 0
    for (const pair of this.pairs) {
      if (pair.request.startsWith(request)) {
        pair.silent = true
        n++
      }
    }
    return n
  }

  /** Drops every connection and answers new ones 502 Bad Gateway, until `pass()`. */
  badGateway(): void {
    this.mode = 'bad-gateway'
    for (const pair of this.pairs) this.drop(pair)
  }

  /** Passes new connections to the app again. */
  pass(): void {
    this.mode = 'pass'
  }
}
