import type { Db } from '../db/connect.js'
import type { Message, MessageStatus } from '../db/database.js'
import { maskContact } from '../identity/contact.js'
import { listMessages } from './message.repository.js'

/** A page of the message log for admins: newest first, recipients masked. */
export async function messageLog(
  db: Db,
  filter: { status?: MessageStatus; limit: number; beforeId?: number },
): Promise<{ messages: (Message & { recipient: string })[]; older: number | null }> {
  const messages = await listMessages(db, filter)
  return {
    messages: messages.map((m) => ({ ...m, recipient: maskContact(m.contact_value) })),
    older: messages.length === filter.limit ? messages.at(-1)!.id : null,
  }
}
