import { createHmac } from 'node:crypto'
import { sameHash } from '../identity/secrets.js'

/** What a broadcast reply link says. */
export type SafetyAnswer = 'safe' | 'help'

const answers: Record<string, SafetyAnswer> = { s: 'safe', h: 'help' }
const letters: Record<SafetyAnswer, string> = { safe: 's', help: 'h' }

function signature(key: Buffer, recipientId: number, answer: SafetyAnswer): string {
  return createHmac('sha256', key)
    .update(`broadcast-reply:${recipientId}:${answer}`)
    .digest('base64url')
    .slice(0, 22)
}

/** The URL-safe token of a reply link: the recipient row, the answer, and an HMAC over both. */
export function replyToken(key: Buffer, recipientId: number, answer: SafetyAnswer): string {
  return `${recipientId}${letters[answer]}${signature(key, recipientId, answer)}`
}

/** Reads a reply token; undefined unless it is well formed and signed with our key. */
export function readReplyToken(
  key: Buffer,
  token: string,
): { recipientId: number; answer: SafetyAnswer } | undefined {
  const match = /^([1-9]\d{0,15})([sh])([A-Za-z0-9_-]{22})$/.exec(token)
  if (!match) return undefined
  const recipientId = Number(match[1])
  const answer = answers[match[2]!]!
  if (!Number.isSafeInteger(recipientId)) return undefined
  return sameHash(match[3]!, signature(key, recipientId, answer)) ? { recipientId, answer } : undefined
}

/** Both reply links of one broadcast recipient, absolute. */
export function replyLinks(
  key: Buffer,
  publicUrl: string,
  recipientId: number,
): { safe: string; help: string } {
  return {
    safe: `${publicUrl}/b/${replyToken(key, recipientId, 'safe')}`,
    help: `${publicUrl}/b/${replyToken(key, recipientId, 'help')}`,
  }
}
