import type { Server } from 'node:http'
import { close, listen, sendJson } from './fake-http.js'

/** A card Teams accepted: the text of each block, and which of them Teams reads as Markdown. */
export interface TeamsPost {
  path: string
  /** Each TextBlock's text, or a RichTextBlock's runs joined. */
  texts: string[]
  /** The TextBlocks' texts: Teams renders Markdown in them (links, bold…), never in text runs. */
  markdown: string[]
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
      const card = JSON.parse(body).attachments[0].content as { body: CardBlock[] }
      this.posts.push({
        path: request.url ?? '/',
        texts: card.body.map(textOf),
        markdown: card.body.filter((b) => b.type === 'TextBlock').map(textOf),
      })
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

/** A block of a card's body: a TextBlock (Markdown) or a RichTextBlock of plain TextRuns. */
interface CardBlock {
  type?: string
  text?: unknown
  inlines?: { type?: string; text?: unknown }[]
}

const textOf = (block: CardBlock): string =>
  block.type === 'TextBlock'
    ? String(block.text)
    : (block.inlines ?? []).map((run) => String(run.text)).join('')

const isTextBlock = (b: CardBlock) => b.type === 'TextBlock' && typeof b.text === 'string'
const isRichTextBlock = (b: CardBlock) =>
  b.type === 'RichTextBlock' &&
  Array.isArray(b.inlines) &&
  b.inlines.length > 0 &&
  b.inlines.every((run) => run.type === 'TextRun' && typeof run.text === 'string')

/** What is wrong with a request body as a Teams Adaptive Card message, or null. */
function cardProblem(contentType: string | undefined, body: string): string | null {
  if (!contentType?.startsWith('application/json')) return 'content-type must be application/json'
  let message: {
    type?: string
    attachments?: {
      contentType?: string
      content?: { type?: string; version?: string; body?: CardBlock[] }
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
  if (!card.body?.length || !card.body.every((b) => isTextBlock(b) || isRichTextBlock(b))) {
    return 'body must be TextBlocks with text or RichTextBlocks of TextRuns'
  }
  return null
}
