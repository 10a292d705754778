import type { Db } from '../db/connect.js'
import type { ContactKind, Person } from '../db/database.js'
import { listContacts } from '../identity/contact.repository.js'
import { type Clock, formatTime } from '../lib/site-time.js'
import { DeliveryError, type MessagePurpose } from '../messaging/channel.js'
import type { Messenger } from '../messaging/messenger.js'
import { reminderPushPayload, sendPushToPerson, type Vapid } from '../push/push.service.js'

/** What a reminder says: who, since when, and the two one-tap links. */
export interface ReminderContent {
  person: Person
  signedInAt: number
  links: { left: string; stillHere: string }
}

/**
 * One way of reaching a person with their reminder. `send` resolves to the channel used, or
 * undefined when this sender cannot reach the person (the next sender is tried); it throws on a
 * transient failure (the whole reminder is retried later) and DeliveryError(permanent) when this
 * sender's address is dead (the next sender is tried).
 */
export interface ReminderSender {
  readonly name: string
  send(content: ReminderContent): Promise<string | undefined>
}

/** Which contacts to try, in order: only kinds an enabled channel can send (REMINDER_CONTACT_ORDER). */
export interface ContactRoute {
  db: Db
  messenger: Messenger
  contactOrder: readonly ContactKind[]
}

/**
 * Sends one message to a person by their verified contacts, in the configured order of kinds
 * (kinds no enabled channel can send are skipped). A permanently failing contact falls through to
 * the next; a transient failure throws. Resolves to `<kind>:<channel>`, or undefined when no
 * contact could take it. Reminders and host notices share it.
 */
export async function sendByContact(
  route: ContactRoute,
  person: Pick<Person, 'id' | 'first_name'>,
  purpose: MessagePurpose,
  data: Record<string, unknown>,
): Promise<string | undefined> {
  const usable = new Set(route.messenger.kinds)
  const contacts = (await listContacts(route.db, person.id))
    .filter((c) => usable.has(c.kind) && route.contactOrder.includes(c.kind))
    .sort((a, b) => route.contactOrder.indexOf(a.kind) - route.contactOrder.indexOf(b.kind))
  for (const contact of contacts) {
    try {
      const sent = await route.messenger.send({ kind: contact.kind, value: contact.value }, purpose, {
        firstName: person.first_name,
        ...data,
      })
      return `${contact.kind}:${sent.channel}`
    } catch (error) {
      if (error instanceof DeliveryError && error.permanent) continue
      throw error
    }
  }
  return undefined
}

/**
 * Reminders by a verified contact (SMS or email), in the configured order of kinds: by default the
 * phone first, because at the end of the day a text is read in minutes and an email maybe tomorrow.
 */
export function contactReminderSender(deps: ContactRoute & { timeZone: string }): ReminderSender {
  return {
    name: 'contact',
    send: (content) =>
      sendByContact(deps, content.person, 'reminder', {
        since: formatTime(content.signedInAt, deps.timeZone),
        leftUrl: content.links.left,
        stillHereUrl: content.links.stillHere,
      }),
  }
}

/**
 * Reminders by Web Push, tried first: free, instant, and answerable from the lock screen. Resolves
 * undefined (so SMS or email is tried next) when the person has no subscription that accepts it.
 */
export function pushReminderSender(deps: {
  db: Db
  clock: Clock
  linkKey: Buffer
  vapid: Vapid
  timeZone: string
}): ReminderSender {
  return {
    name: 'push',
    async send(content) {
      const now = deps.clock.now()
      const payload = await reminderPushPayload(deps.db, deps.linkKey, content.person.id, now, {
        timeZone: deps.timeZone,
      })
      if (!payload) return undefined
      const pushed = await sendPushToPerson(deps.db, content.person.id, payload, { vapid: deps.vapid, now })
      return pushed ? 'push' : undefined
    },
  }
}
