import { createHmac } from 'node:crypto'
import { sameHash } from '../identity/secrets.js'

/** What a reminder link does: sign the person out, or confirm they are still in. */
export type ReminderAction = 'left' | 'still-here'

const actions: Record<string, ReminderAction> = { l: 'left', s: 'still-here' }
const codes: Record<ReminderAction, string> = { left: 'l', 'still-here': 's' }

function signature(key: Buffer, reminderId: number, action: ReminderAction): string {
  return createHmac('sha256', key).update(`reminder:${reminderId}:${action}`).digest('base64url').slice(0, 22)
}

/** The URL-safe token of a reminder link: the reminder id, the action and an HMAC over both. */
export function reminderToken(key: Buffer, reminderId: number, action: ReminderAction): string {
  return `${reminderId}${codes[action]}${signature(key, reminderId, action)}`
}

/** Reads a reminder token; undefined unless it is well formed and signed with our key. */
export function readReminderToken(
  key: Buffer,
  token: string,
): { reminderId: number; action: ReminderAction } | undefined {
  const match = /^([1-9]\d{0,15})([ls])([A-Za-z0-9_-]{22})$/.exec(token)
  if (!match) return undefined
  const reminderId = Number(match[1])
  const action = actions[match[2]!]!
  if (!Number.isSafeInteger(reminderId)) return undefined
  return sameHash(match[3]!, signature(key, reminderId, action)) ? { reminderId, action } : undefined
}

/** Both links of a reminder, absolute. */
export function reminderLinks(
  key: Buffer,
  publicUrl: string,
  reminderId: number,
): { left: string; stillHere: string } {
  return {
    left: `${publicUrl}/r/${reminderToken(key, reminderId, 'left')}`,
    stillHere: `${publicUrl}/r/${reminderToken(key, reminderId, 'still-here')}`,
  }
}
