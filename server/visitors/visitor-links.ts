import { createHmac } from 'node:crypto'
import { sameHash } from '../identity/secrets.js'

/** What a visitor link does: sign the visitor out (badge QR, confirmation), or check in an invitation. */
export type VisitorLinkPurpose = 'out' | 'in'

function signature(key: Buffer, visitorId: number, purpose: VisitorLinkPurpose): string {
  return createHmac('sha256', key).update(`visitor:${purpose}:${visitorId}`).digest('base64url').slice(0, 22)
}

/** The URL-safe token of a visitor link: the visit's id and a 132-bit HMAC over it and its purpose. */
export function visitorToken(key: Buffer, visitorId: number, purpose: VisitorLinkPurpose): string {
  return `${visitorId}${purpose === 'out' ? 'o' : 'i'}${signature(key, visitorId, purpose)}`
}

/** Reads a visitor token; undefined unless well formed, for this purpose, and signed with our key. */
export function readVisitorToken(
  key: Buffer,
  token: string,
  purpose: VisitorLinkPurpose,
): number | undefined {
  const match = /^([1-9]\d{0,15})([oi])([A-Za-z0-9_-]{22})$/.exec(token)
  if (!match || match[2] !== (purpose === 'out' ? 'o' : 'i')) return undefined
  const id = Number(match[1])
  if (!Number.isSafeInteger(id)) return undefined
  return sameHash(match[3]!, signature(key, id, purpose)) ? id : undefined
}

/** The absolute link for a visitor token. */
export function visitorLink(
  key: Buffer,
  publicUrl: string,
  visitorId: number,
  purpose: VisitorLinkPurpose,
): string {
  return `${publicUrl}/${purpose === 'out' ? 'v' : 'i'}/${visitorToken(key, visitorId, purpose)}`
}
