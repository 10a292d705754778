import type { Db } from '../db/connect.js'
import type { ContactKind, Person } from '../db/database.js'
import { listContacts } from '../identity/contact.repository.js'
import { type Clock, formatTime } from '../lib/site-time.js'
import { DeliveryError } from '../messaging/channel.js'
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

/**
 * Reminders by a verified contact (SMS or email), in the configured order of kinds: by default the
 * phone first, because at the end of the day a text is read in minutes and an email maybe tomorrow.
 * Only kinds an enabled channel can send are used; a permanently failing contact falls through to
 * the person's next one.
 */
export function contactReminderSender(deps: {
  db: Db
  messenger: Messenger
  contactOrder: readonly ContactKind[]
  timeZone: string
}): ReminderSender {
  return {
    name: 'contact',
    async send(content) {
      const usable = new Set(deps.messenger.kinds)
      const contacts = (await listContacts(deps.db, content.person.id))
        .filter((c) => usable.has(c.kind) && deps.contactOrder.includes(c.kind))
        .sort((a, b) => deps.contactOrder.indexOf(a.kind) - deps.contactOrder.indexOf(b.kind))
      for (const contact of contacts) {
        try {
          const sent = await deps.messenger.send({ kind: contact.kind, value: contact.value }, 'reminder', {
            firstName: content.person.first_name,
            since: formatTime(content.signedInAt, deps.timeZone),
            leftUrl: content.links.left,
            stillHereUrl: content.links.stillHere,
          })
          return `${contact.kind}:${sent.channel}`
        } catch (error) {
          if (error instanceof DeliveryError && error.permanent) continue
          throw error
        }
      }
      return undefined
    },
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
