import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { TestContext } from 'node:test'

/** One post received by the fake webhook. */
export interface SlackPost {
  path: string
  text: string
  /** Whether Slack may preview the links (`unfurl_links`) and media (`unfurl_media`) in the text; absent means it may. */
  unfurl: { links: boolean; media: boolean }
  at: number
}

/**
 * A local HTTP server speaking Slack's incoming-webhook protocol: POST JSON `{text}`, answer
 * 200 "ok". Tests can queue other answers per path (e.g. a 429 with Retry-After).
 */
export class FakeSlack {
  readonly posts: SlackPost[] = []
  /** Every request, including refused ones. */
  readonly attempts: SlackPost[] = []
  private readonly scripted = new Map<string, { status: number; headers?: Record<string, string> }[]>()

  private constructor(
    /** The listening server (closed when the test ends). */
    readonly server: Server,
    readonly port: number,
  ) {}

  static async start(t: TestContext): Promise<FakeSlack> {
    let fake: FakeSlack | undefined
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = []
      for await (const chunk of req) chunks.push(chunk as Buffer)
      fake!.handle(req.url ?? '/', Buffer.concat(chunks).toString(), req.method ?? 'GET', res)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const address = server.address()
    fake = new FakeSlack(server, typeof address === 'object' && address ? address.port : 0)
    t.after(() => {
      server.closeAllConnections()
      server.close()
    })
    return fake
  }

  /** The webhook URL for a path, like https://hooks.slack.com/services/T/B/X. */
  url(path = '/services/T000/B000/XXXX'): string {
    return `http://127.0.0.1:${this.port}${path}`
  }

  /** The next request to `path` gets this answer instead of 200. */
  respondNext(path: string, answer: { status: number; headers?: Record<string, string> }): void {
    const list = this.scripted.get(path) ?? []
    list.push(answer)
    this.scripted.set(path, list)
  }

  /** Posts received (200) on one path. */
  postsTo(path: string): SlackPost[] {
    return this.posts.filter((p) => p.path === path)
  }

  /** Resolves once `count` posts arrived on `path`, or rejects after `timeoutMs`. */
  async waitFor(path: string, count: number, timeoutMs = 15_000): Promise<SlackPost[]> {
    const deadline = Date.now() + timeoutMs
    while (this.postsTo(path).length < count) {
      if (Date.now() > deadline) {
        throw new Error(
          `expected ${count} Slack post(s) on ${path}, got ${JSON.stringify(this.postsTo(path))}`,
        )
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return this.postsTo(path)
  }

  private handle(path: string, body: string, method: string, res: import('node:http').ServerResponse): void {
    let text = ''
    let unfurl = { links: true, media: true }
    try {
      const payload = JSON.parse(body) as { text?: unknown; unfurl_links?: unknown; unfurl_media?: unknown }
      text = String(payload.text ?? '')
      unfurl = { links: payload.unfurl_links !== false, media: payload.unfurl_media !== false }
    } catch {
      res.writeHead(400).end('invalid_payload')
      return
    }
    const post = { path, text, unfurl, at: Date.now() }
    this.attempts.push(post)
    if (method !== 'POST') {
      res.writeHead(405).end()
      return
    }
    const scripted = this.scripted.get(path)?.shift()
    if (scripted) {
      res.writeHead(scripted.status, scripted.headers).end(scripted.status === 429 ? 'rate_limited' : 'error')
      return
    }
    this.posts.push(post)
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
  }
}
