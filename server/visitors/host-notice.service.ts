import type { Config } from '../config.js'
import type { Db } from '../db/connect.js'
import type { ContactKind, Person, VisitorVia } from '../db/database.js'
import { findPersonById } from '../identity/person.repository.js'
import { type Clock, formatTime, localDay, startOfLocalDay } from '../lib/site-time.js'
import type { Messenger } from '../messaging/messenger.js'
import {
  findOutbox,
  insertOutbox,
  recordDelivery,
  type VisitorArrivalPayload,
  wasDelivered,
} from '../outbox/outbox.repository.js'
import { sendPushToPerson, type Vapid, vapidFromConfig } from '../push/push.service.js'
import { sendByContact } from '../reminders/reminder-senders.js'
import type { VisitorArrivalFacts } from '../slack/slack.js'
import {
  claimHostNotice,
  claimVisitorReminder,
  findVisitorWithKiosk,
  listVisitorsInside,
  releaseHostNotice,
  releaseVisitorReminder,
} from './visitor.repository.js'

/** What telling a host needs: the database, the message channels (and their order), Web Push, the site's clock and zone. */
export interface HostNoticeDeps {
  db: Db
  messenger: Messenger
  vapid: Vapid
  clock: Clock
  timeZone: string
  /** Which contact kinds to try, in order (REMINDER_CONTACT_ORDER). */
  contactOrder: readonly ContactKind[]
}

/** The outbox target that stands for "the visitor's host" (beside the chat webhooks' targets). */
export const HOST_NOTICE_TARGET = 'host'

/**
 * How long a claimed host notice is left to its sender. A sender that died (after claiming, before
 * recording that it was sent) is taken over after this, so the notice is still sent: at least once
 * on a crash, exactly once otherwise. Far longer than a send can take (push and SMS time out in seconds).
 */
export const HOST_NOTICE_LEASE_MS = 2 * 60_000

/** The notice is being sent by another process right now; try again later. */
export class HostNoticeBusyError extends Error {
  override name = 'HostNoticeBusyError'
}

/**
 * Records that a visitor arrived, for the host notice (and the chat post) to go out from the
 * outbox. Call it inside the transaction that signs the visitor in, so neither is ever lost.
 */
export async function recordVisitorArrival(
  db: Db,
  visitorId: number,
  at: number,
  now: number,
): Promise<void> {
  await insertOutbox(db, { topic: 'visitor-arrival', payload: { visitorId, at } }, now)
}

/**
 * Tells a visitor's host that they have arrived: by Web Push first, else by the host's contacts
 * (SMS or email). Returns how the host was told, or undefined when there is no host to tell or no
 * way to reach them. The visitor's `host_notified_at` is claimed first, so two senders never both
 * send; one that finds it claimed (and the claim not stale) throws HostNoticeBusyError. A transient
 * failure gives the claim back and throws, so a later try sends it.
 */
export async function tellHostVisitorArrived(
  deps: HostNoticeDeps,
  visitorId: number,
): Promise<string | undefined> {
  const { db } = deps
  const now = deps.clock.now()
  const visitor = await findVisitorWithKiosk(db, visitorId)
  if (!visitor?.host_person_id || visitor.signed_in_at === null) return undefined
  const host = await findPersonById(db, visitor.host_person_id)
  if (!host || host.deactivated_at !== null) return undefined
  if (!(await claimHostNotice(db, visitorId, now, now - HOST_NOTICE_LEASE_MS)))
    throw new HostNoticeBusyError(`the host notice of visitor ${visitorId} is being sent elsewhere`)
  const who = visitor.company ? `${visitor.name} (${visitor.company})` : visitor.name
  const where = arrivalPlace(visitor)
  const since = formatTime(visitor.signed_in_at, deps.timeZone)
  try {
    return await reachHost(
      deps,
      host,
      {
        title: 'Your visitor has arrived',
        body: where
          ? `${who} signed in at ${where} at ${since}.`
          : `${who} checked in with their invitation at ${since}.`,
      },
      'visitor-arrived',
      { visitor: who, entrance: where ?? undefined, since, visitorId },
    )
  } catch (error) {
    await releaseHostNotice(db, visitorId)
    throw error
  }
}

/**
 * Sends the host notice of one visitor-arrival outbox event, once: a notice already recorded as
 * sent is skipped, and the send is recorded (outbox_delivery, target "host") when done — also when
 * there was nobody to tell. Throws to be retried: on a transient failure, and (HostNoticeBusyError)
 * while another process is sending it. Run by the worker's host-notice queue and by the embedded
 * scheduler's outbox pass.
 */
export async function deliverHostNotice(
  deps: HostNoticeDeps,
  outboxId: number,
): Promise<'told' | 'nobody-to-tell' | 'already-told' | 'gone'> {
  const event = await findOutbox(deps.db, outboxId)
  if (event?.topic !== 'visitor-arrival') return 'gone'
  if (await wasDelivered(deps.db, outboxId, HOST_NOTICE_TARGET)) return 'already-told'
  const { visitorId } = JSON.parse(event.payload) as VisitorArrivalPayload
  const how = await tellHostVisitorArrived(deps, visitorId)
  await recordDelivery(deps.db, outboxId, HOST_NOTICE_TARGET, deps.clock.now())
  return how ? 'told' : 'nobody-to-tell'
}

/**
 * What the chat post about a visitor's arrival says (names only when `names`, i.e. SLACK_POST_NAMES),
 * read when it is posted; undefined when the visitor is gone (purged or erased).
 */
export async function visitorArrivalFacts(
  db: Db,
  visitorId: number,
  names: boolean,
): Promise<VisitorArrivalFacts | undefined> {
  const visitor = await findVisitorWithKiosk(db, visitorId)
  if (!visitor) return undefined
  const entrance = arrivalPlace(visitor)
  if (!names) return { visitor: null, company: '', host: null, entrance }
  const host = visitor.host_person_id ? await findPersonById(db, visitor.host_person_id) : undefined
  return {
    visitor: visitor.name,
    company: visitor.company,
    host: host ? `${host.first_name} ${host.last_name}` : visitor.host_text,
    entrance,
  }
}

/**
 * At the reminder time: tells each host whose visitor (signed in today) is still signed in, once
 * per visitor, so they can sign them out or say they are still here. Returns how many were told.
 */
export async function remindHostsOfVisitorsInside(deps: HostNoticeDeps): Promise<number> {
  const { db } = deps
  const now = deps.clock.now()
  const startOfToday = startOfLocalDay(localDay(now, deps.timeZone), deps.timeZone)
  let told = 0
  for (const v of await listVisitorsInside(db)) {
    if (v.hostPersonId === null || v.signedInAt < startOfToday) continue
    const host = await findPersonById(db, v.hostPersonId)
    if (!host || host.deactivated_at !== null) continue
    if (!(await claimVisitorReminder(db, v.visitorId, now))) continue
    const who = v.company ? `${v.name} (${v.company})` : v.name
    const since = formatTime(v.signedInAt, deps.timeZone)
    try {
      const how = await reachHost(
        deps,
        host,
        {
          title: 'Your visitor is still signed in',
          body: `${who} (since ${since}) has not signed out. If they have left, sign them out at reception.`,
        },
        'visitor-still-in',
        { visitor: who, since, visitorId: v.visitorId },
      )
      if (how) told++
    } catch {
      await releaseVisitorReminder(db, v.visitorId)
    }
  }
  return told
}

/** Web Push first, else the host's contacts in the reminder order; the channel used, or undefined. */
async function reachHost(
  deps: HostNoticeDeps,
  host: Person,
  push: { title: string; body: string },
  purpose: 'visitor-arrived' | 'visitor-still-in',
  data: { visitor: string; since: string; visitorId: number; entrance?: string },
): Promise<string | undefined> {
  const pushed = await sendPushToPerson(
    deps.db,
    host.id,
    { ...push, tag: `${purpose}-${data.visitorId}` },
    { vapid: deps.vapid, now: deps.clock.now() },
  )
  if (pushed) return 'push'
  return sendByContact(deps, host, purpose, data)
}

/** The host-notice needs of a process's context. */
export function hostNoticeDeps(ctx: {
  db: Db
  messenger: Messenger
  clock: Clock
  config: Config
}): HostNoticeDeps {
  return {
    db: ctx.db,
    messenger: ctx.messenger,
    vapid: vapidFromConfig(ctx.config),
    clock: ctx.clock,
    timeZone: ctx.config.TIME_ZONE,
    contactOrder: ctx.config.REMINDER_CONTACT_ORDER,
  }
}

/**
 * Where a visitor signed in: the kiosk's name, reception's desk, or nowhere in particular (their
 * invitation link, opened on their own phone).
 */
function arrivalPlace(visitor: {
  kioskName: string | null
  signed_in_via: VisitorVia | null
}): string | null {
  if (visitor.kioskName) return visitor.kioskName
  return visitor.signed_in_via === 'invite' ? null : 'reception'
}
