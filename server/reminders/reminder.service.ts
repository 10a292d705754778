import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Reminder } from '../db/database.js'
import { findPersonById } from '../identity/person.repository.js'
import { UserError } from '../lib/errors.js'
import { localDay, startOfLocalDay } from '../lib/site-time.js'
import { closeStaleVisit, type RegisterSite } from '../register/register.service.js'
import { findOpenVisit } from '../register/visit.repository.js'
import {
  answerReminder,
  claimReminder,
  findReminder,
  finishReminder,
  listDueReminders,
  releaseReminder,
  unanswerReminder,
} from './reminder.repository.js'
import { type ReminderAction, readReminderToken, reminderLinks } from './reminder-links.js'
import type { ReminderSender } from './reminder-senders.js'

/** What sending a reminder needs. */
export interface ReminderDeps {
  db: Db
  linkKey: Buffer
  publicUrl: string
  timeZone: string
  senders: readonly ReminderSender[]
}

/** Who should get today's reminder at `now`: signed in today, still in, not reminded yet today. */
export async function dueReminders(
  db: Db,
  now: number,
  timeZone: string,
): Promise<{ day: string; people: { personId: number; visitId: number }[] }> {
  const day = localDay(now, timeZone)
  return { day, people: await listDueReminders(db, day, startOfLocalDay(day, timeZone)) }
}

/** What happened to one person's reminder. */
export type ReminderOutcome = 'sent' | 'unreachable' | 'already-claimed' | 'not-inside'

/**
 * Sends a person's reminder for a local day, at most once: the (person, day) row is claimed
 * before anything is sent, so retries and concurrent workers find it taken. A transient failure
 * gives the claim back and throws, so the caller's retry can try again.
 */
export async function sendReminder(
  deps: ReminderDeps,
  request: { personId: number; day: string; now: number },
): Promise<ReminderOutcome> {
  const { db } = deps
  const open = await findOpenVisit(db, request.personId)
  if (!open || localDay(open.signed_in_at, deps.timeZone) !== request.day) return 'not-inside'
  const claim = await claimReminder(db, {
    personId: request.personId,
    day: request.day,
    visitId: open.id,
    at: request.now,
  })
  if (!claim) return 'already-claimed'
  const person = await findPersonById(db, request.personId)
  let channel: string | undefined
  if (person && person.deactivated_at === null) {
    const links = reminderLinks(deps.linkKey, deps.publicUrl, claim.id)
    try {
      for (const sender of deps.senders) {
        channel = await sender.send({ person, signedInAt: open.signed_in_at, links })
        if (channel) break
      }
    } catch (error) {
      await releaseReminder(db, claim.id)
      throw error
    }
  }
  await finishReminder(db, claim.id, {
    status: channel ? 'sent' : 'unreachable',
    channel: channel ?? null,
    at: request.now,
  })
  return channel ? 'sent' : 'unreachable'
}

/** A reminder link, checked: the reminder, what the link does, and whether it can still be used. */
export interface ReminderLink {
  reminder: Reminder
  action: ReminderAction
  firstName: string
  signedInAt: number | null
}

/** Reads a link's token; a 404 for anything forged or purged, a 410 once it has been used. */
export async function openReminderLink(db: Db, key: Buffer, token: string): Promise<ReminderLink> {
  const parsed = readReminderToken(key, token)
  const reminder = parsed && (await findReminder(db, parsed.reminderId))
  if (!parsed || !reminder) {
    throw new UserError(404, 'This reminder link is not valid. Open the register to sign in or out.')
  }
  if (reminder.answered_at !== null) {
    throw new UserError(410, 'This reminder link has already been used. Open the register to sign in or out.')
  }
  const person = await findPersonById(db, reminder.person_id)
  const open = await findOpenVisit(db, reminder.person_id)
  return {
    reminder,
    action: parsed.action,
    firstName: person?.first_name ?? '',
    signedInAt: open && open.id === reminder.visit_id ? open.signed_in_at : null,
  }
}

/**
 * Answers a reminder through its link, once. "I've left" closes the reminded visit at the time
 * given (default: now, the moment of the tap); "Still here" only records the answer.
 */
export async function answerReminderLink(
  db: Db,
  request: { key: Buffer; token: string; leftAt?: number | null; now: number; context: RequestContext },
  site: RegisterSite,
): Promise<{ signedOut: boolean; message: string; personId: number }> {
  const link = await openReminderLink(db, request.key, request.token)
  const { reminder, action } = link
  if (action === 'left' && link.signedInAt === null) {
    await answerReminder(db, reminder.id, 'left', request.now)
    return {
      signedOut: false,
      message: 'You were already signed out, so nothing changed.',
      personId: reminder.person_id,
    }
  }
  if (!(await answerReminder(db, reminder.id, action, request.now))) {
    throw new UserError(410, 'This reminder link has already been used. Open the register to sign in or out.')
  }
  await recordAudit(db, {
    at: request.now,
    personId: reminder.person_id,
    action: 'reminder.answered',
    context: request.context,
    detail: { reminderId: reminder.id, answer: action },
  })
  if (action === 'still-here') {
    return {
      signedOut: false,
      message: 'Thanks. You are still signed in: remember to sign out when you leave.',
      personId: reminder.person_id,
    }
  }
  try {
    const result = await closeStaleVisit(
      db,
      {
        personId: reminder.person_id,
        visitId: reminder.visit_id,
        leftAt: request.leftAt === undefined ? request.now : request.leftAt,
        now: request.now,
        context: request.context,
      },
      site,
    )
    return { signedOut: result.changed, message: result.message, personId: reminder.person_id }
  } catch (error) {
    // An impossible time leaves the link usable, so the person can correct it.
    await unanswerReminder(db, reminder.id)
    throw error
  }
}
