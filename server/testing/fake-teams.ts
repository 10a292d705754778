import type { Server } from 'node:http'
import { close, listen, sendJson } from './fake-http.js'

/** A card Teams accepted: the texts of its TextBlocks. */
export interface TeamsPost {
  path: string
  texts: string[]
}

/**
 * A local server speaking Teams' webhook protocol (Workflows "when a Teams webhook request is
 * received"): it accepts only a message with one Adaptive Card attachment (answering 202, as
 * Workflows does) and answers 400 to anything else, as Teams does.
 */
export class FakeTeams {
  readonly posts: TeamsPost[] = []
  readonly refused: string[] = []
  private server?: Server
  base = ''

  async start(): Promise<this> {
    const { server, url } = await listen((request, body, response) => {
      const problem = cardProblem(request.headers['content-type'], body)
      if (problem) {
        this.refused.push(problem)
        return sendJson(response, 400, { error: { code: 'InvalidRequestContent', message: problem } })
      }
      const card = JSON.parse(body).attachments[0].content as { body: { text: string }[] }
      this.posts.push({ path: request.url ?? '/', texts: card.body.map((b) => b.text) })
      sendJson(response, 202, undefined)
    })
    this.server = server
    this.base = url
    return this
  }

  url(path: string): string {
    return `${this.base}${path}`
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server)
  }
}

/** What is wrong with a request body as a Teams Adaptive Card message, or null. */
function cardProblem(contentType: string | undefined, body: string): string | null {
  if (!contentType?.startsWith('application/json')) return 'content-type must be application/json'
  let message: {
    type?: string
    attachments?: {
      contentType?: string
      content?: { type?: string; version?: string; body?: { type?: string; text?: unknown }[] }
    }[]
  }
  try {
    message = JSON.parse(body)
  } catch {
    return 'body is not JSON'
  }
  if (message.type !== 'message') return 'type must be "message"'
  const [attachment] = message.attachments ?? []
  if (message.attachments?.length !== 1 || !attachment) return 'exactly one attachment'
  if (attachment.contentType !== 'application/vnd.microsoft.card.adaptive')
    return 'attachment must be an Adaptive Card'
  const card = attachment.content
  if (card?.type !== 'AdaptiveCard') return 'content.type must be AdaptiveCard'
  if (!card.version || !/^1\.[0-5]$/.test(card.version)) return 'a card version Teams renders (1.0–1.5)'
  if (!card.body?.length || !card.body.every((b) => b.type === 'TextBlock' && typeof b.text === 'string')) {
    return 'body must be TextBlocks with text'
  }
  return null
}
