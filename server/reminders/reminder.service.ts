import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Reminder, Visit } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { findPersonById } from '../identity/person.repository.js'
import { UserError } from '../lib/errors.js'
import { formatTime, localDateTime, localDay, startOfLocalDay } from '../lib/site-time.js'
import { closeStaleVisit, correctAutoClose, type RegisterSite } from '../register/register.service.js'
import { findOpenVisit, findVisit, lockVisit } from '../register/visit.repository.js'
import {
  answerReminder,
  claimReminder,
  findReminder,
  findReminderOfVisit,
  finishReminder,
  listDueReminders,
  releaseReminder,
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
  /** The reminded visit's sign-in while it is still open; null once closed. */
  signedInAt: number | null
  /** Once the reminded visit is closed: the sign-in of the person's visit open now, if any. */
  signedInAgainAt: number | null
  /** The reminded visit, when the nightly auto-close closed it: "I've left" corrects it. */
  autoClosed: { signedInAt: number; closedAt: number } | null
  /** When the person said "Still here", if they did. */
  stillHereAt: number | null
  /** Likely leaving times for one-tap answers (latest first), after the sign-in and not later than now. */
  leavingTimes: number[]
}

const halfHourMs = 30 * 60_000

/**
 * Likely leaving times to offer as one tap: the half hours before `until` (the latest possible
 * moment) and the moment the reminder came, after the sign-in, latest first, at most four.
 */
export function likelyLeavingTimes(signedInAt: number, until: number, remindedAt: number | null): number[] {
  const times = new Set<number>()
  if (remindedAt !== null && remindedAt > signedInAt && remindedAt < until) times.add(remindedAt)
  for (
    let t = Math.floor(until / halfHourMs) * halfHourMs;
    times.size < 4 && t > signedInAt;
    t -= halfHourMs
  ) {
    // "Just now" covers the last few minutes; a half hour within them would say the same.
    if (until - t >= 5 * 60_000) times.add(t)
  }
  return [...times].sort((a, b) => b - a).slice(0, 4)
}

/**
 * What "Still here" tells someone the register has out (a sign-out saved on their phone came first,
 * the nightly auto-close): saying "still signed in" would leave someone inside off the fire list,
 * believing they are on it. The link and the notification's button say the same.
 */
export const stillHereButSignedOut =
  'Thanks. The register has you signed out, though: if you are still in the building, open the register and sign in again, so you are on the fire list.'

/** What "Still here" tells someone out of the reminded visit who has signed in again since. */
export const stillHereSignedInAgain = 'Thanks. You are signed in.'

const usedLink = () =>
  new UserError(410, 'This reminder link has already been used. Open the register to sign in or out.')

/**
 * Reads a link's token; a 404 for anything forged or purged, a 410 once it has been used. The two
 * links do not die as a pair: after "Still here", "I've left" still works (people stay, then leave),
 * and so does "Still here" again (the latest counts: answerReminder).
 * `readVisit` reads the reminded visit (lockVisit when answering).
 */
export async function openReminderLink(
  db: Db,
  key: Buffer,
  token: string,
  now: number,
  readVisit: (db: Db, visitId: number) => Promise<Visit | undefined> = findVisit,
): Promise<ReminderLink> {
  const parsed = readReminderToken(key, token)
  const reminder = parsed && (await findReminder(db, parsed.reminderId))
  if (!parsed || !reminder) {
    throw new UserError(404, 'This reminder link is not valid. Open the register to sign in or out.')
  }
  return readReminderLink(db, reminder, parsed.action, now, readVisit)
}

/** A reminder as its link shows it (openReminderLink); a 410 once it was answered "I've left". */
async function readReminderLink(
  db: Db,
  reminder: Reminder,
  action: ReminderAction,
  now: number,
  readVisit: (db: Db, visitId: number) => Promise<Visit | undefined>,
): Promise<ReminderLink> {
  const stillHere = reminder.answer === 'still-here'
  if (reminder.answered_at !== null && !stillHere) throw usedLink()
  const person = await findPersonById(db, reminder.person_id)
  const visit = await readVisit(db, reminder.visit_id)
  const open = visit && visit.signed_out_at === null ? visit : undefined
  const again = open ? undefined : await findOpenVisit(db, reminder.person_id)
  const autoClosed =
    visit && visit.closed_by === 'auto' && visit.signed_out_at !== null
      ? { signedInAt: visit.signed_in_at, closedAt: visit.signed_out_at }
      : null
  const from = open?.signed_in_at ?? autoClosed?.signedInAt
  return {
    reminder,
    action,
    firstName: person?.first_name ?? '',
    signedInAt: open ? open.signed_in_at : null,
    signedInAgainAt: again ? again.signed_in_at : null,
    autoClosed,
    stillHereAt: stillHere ? reminder.answered_at : null,
    leavingTimes:
      from === undefined
        ? []
        : likelyLeavingTimes(from, autoClosed ? Math.min(autoClosed.closedAt, now) : now, reminder.sent_at),
  }
}

/**
 * Answers a reminder through its link. "I've left" closes the reminded visit at the time given
 * (HH:mm on the visit's day; default: now, the moment of the tap) — or, if the nightly auto-close
 * already closed it, corrects it to that time (default: the auto-close), so the fire list stops
 * listing the person as possibly inside. "Still here" only records the answer (again later: the
 * latest time counts); "I've left" can follow it later.
 */
export async function answerReminderLink(
  db: Db,
  request: { key: Buffer; token: string; time?: string; now: number; context: RequestContext },
  site: RegisterSite,
): Promise<ReminderAnswerResult> {
  // One unit: an impossible time (a 422 from the close) undoes the answer and its audit row too,
  // so the link stays usable and the trail shows only what happened.
  return unitOfWork(db, async (trx) => {
    // The visit first (PostgreSQL: its row, held to the commit), as every change to it does: a
    // sign-out saved offline before "Still here" and arriving now waits, then sees the answer.
    const link = await openReminderLink(trx, request.key, request.token, request.now, lockVisit)
    return answerLink(trx, link, request, site)
  })
}

/** What answering a reminder did: whether it signed the person out, and what to tell them. */
export interface ReminderAnswerResult {
  signedOut: boolean
  /** A "Still here" was recorded (the fire list's line for the person changes: announce it). */
  stillHere: boolean
  message: string
  personId: number
}

/**
 * Answers the reminder about a visit as its link answers it with no time given (answerReminderLink):
 * the notification's "I've left" signs out of an open visit at the tap, corrects one the nightly
 * auto-close closed, and is recorded as the answer also when a sign-out came first. Undefined when
 * no reminder was made about that visit for that person.
 */
export async function answerReminderOfVisit(
  db: Db,
  request: {
    personId: number
    visitId: number
    action: ReminderAction
    now: number
    context: RequestContext
    via: string
  },
  site: RegisterSite,
): Promise<ReminderAnswerResult | undefined> {
  return unitOfWork(db, async (trx) => {
    const reminder = await findReminderOfVisit(trx, request.visitId)
    if (!reminder || reminder.person_id !== request.personId) return undefined
    const link = await readReminderLink(trx, reminder, request.action, request.now, lockVisit)
    return answerLink(trx, link, request, site)
  })
}

/**
 * Every answer to a reminder is audited as `reminder.answered` (which webhooks announce), with the
 * channel it came by (`via`, the notification's), from the link or the notification alike.
 */
export function auditReminderAnswer(
  trx: Db,
  answer: { personId: number; reminderId?: number; visitId?: number; answer: ReminderAction },
  request: { now: number; context: RequestContext; via?: string },
): Promise<void> {
  return recordAudit(trx, {
    at: request.now,
    personId: answer.personId,
    action: 'reminder.answered',
    context: request.context,
    detail: {
      ...(answer.reminderId !== undefined ? { reminderId: answer.reminderId } : {}),
      ...(answer.visitId !== undefined ? { visitId: answer.visitId } : {}),
      answer: answer.answer,
      ...(request.via ? { via: request.via } : {}),
    },
  })
}

/** The audit row of an answer by the link (or the notification's "I've left", which runs the link's code). */
const auditAnswer = (
  trx: Db,
  { reminder, action }: ReminderLink,
  request: { now: number; context: RequestContext; via?: string },
) =>
  auditReminderAnswer(trx, { personId: reminder.person_id, reminderId: reminder.id, answer: action }, request)

async function answerLink(
  trx: Db,
  link: ReminderLink,
  request: { time?: string; now: number; context: RequestContext; via?: string },
  site: RegisterSite,
): Promise<ReminderAnswerResult> {
  const { reminder, action } = link
  const visitStart = link.signedInAt ?? link.autoClosed?.signedInAt
  let leftAt: number | null | undefined
  if (request.time !== undefined && visitStart !== undefined) {
    leftAt = localDateTime(localDay(visitStart, site.timeZone), request.time, site.timeZone)
  }
  if (action === 'left' && visitStart === undefined) {
    if (await answerReminder(trx, reminder.id, 'left', request.now)) await auditAnswer(trx, link, request)
    return {
      signedOut: false,
      stillHere: false,
      // Signed in again since: the link is about the visit they ended, so the new one stays open
      // (a link tapped late must not end a visit it was not about); say where to sign out.
      message:
        link.signedInAgainAt !== null
          ? `You signed in again at ${formatTime(link.signedInAgainAt, site.timeZone)} and are still signed in: open the register to sign out.`
          : 'You were already signed out, so nothing changed.',
      personId: reminder.person_id,
    }
  }
  if (!(await answerReminder(trx, reminder.id, action, request.now))) throw usedLink()
  await auditAnswer(trx, link, request)
  if (action === 'still-here') {
    return {
      signedOut: false,
      stillHere: true,
      message:
        link.signedInAt !== null
          ? 'Thanks. You are still signed in: remember to sign out when you leave (the “I’ve left” link in the reminder still works).'
          : link.signedInAgainAt !== null
            ? stillHereSignedInAgain
            : stillHereButSignedOut,
      personId: reminder.person_id,
    }
  }
  const result = link.autoClosed
    ? await correctAutoClose(
        trx,
        {
          personId: reminder.person_id,
          visitId: reminder.visit_id,
          leftAt: leftAt === undefined ? link.autoClosed.closedAt : leftAt,
          now: request.now,
          context: request.context,
        },
        site,
      )
    : await closeStaleVisit(
        trx,
        {
          personId: reminder.person_id,
          visitId: reminder.visit_id,
          leftAt: leftAt === undefined ? request.now : leftAt,
          now: request.now,
          context: request.context,
        },
        site,
      )
  return {
    signedOut: result.changed,
    stillHere: false,
    message: result.message,
    personId: reminder.person_id,
  }
}
