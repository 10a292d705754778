import { createHmac, timingSafeEqual } from 'node:crypto'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Config } from '../config.js'
import type { Db } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { UserError } from '../lib/errors.js'
import { formatTime } from '../lib/site-time.js'
import { presenceOf, type RegisterSite, signOut, type TapResult } from '../register/register.service.js'
import { findOpenVisit, lockVisit } from '../register/visit.repository.js'
import { answerReminder, findReminderOfVisit } from '../reminders/reminder.repository.js'
import {
  answerReminderOfVisit,
  auditReminderAnswer,
  stillHereButSignedOut,
  stillHereSignedInAgain,
} from '../reminders/reminder.service.js'
import {
  deletePushSubscription,
  deletePushSubscriptionById,
  hasPushSubscriptionForDevice,
  listPushSubscriptions,
  markPushSuccess,
  upsertPushSubscription,
} from './push-subscription.repository.js'

/** Whether this device of this person receives push notifications. */
export async function pushEnabled(db: Db, personId: number, deviceId: number): Promise<boolean> {
  return hasPushSubscriptionForDevice(db, personId, deviceId)
}

/** The VAPID identity the app signs pushes with. */
export interface Vapid {
  subject: string
  publicKey: string
  privateKey: string
}

/** What sending a push needs besides the database. */
export interface PushOptions {
  vapid: Vapid
  now: number
  /** Per push service request, in ms (default 10 s). */
  timeoutMs?: number
}

/** What the service worker shows: a title, a body, optional action buttons and data for clicks. */
export interface PushPayload {
  title: string
  body: string
  tag?: string
  actions?: { action: string; title: string }[]
  data?: Record<string, unknown>
}

/** The VAPID details from the configuration. */
export function vapidFromConfig(config: Config): Vapid {
  return {
    subject: config.VAPID_SUBJECT,
    publicKey: config.VAPID_PUBLIC_KEY,
    privateKey: config.VAPID_PRIVATE_KEY,
  }
}

/** A browser's PushSubscription as JSON (`subscription.toJSON()`). */
export interface SubscriptionInput {
  endpoint: string
  keys: { p256dh: string; auth: string }
}

/**
 * Checks a subscription a browser sent: push services are always HTTPS; plain http is accepted
 * only for localhost outside production (a local fake push service in tests and development).
 */
export function checkSubscription(input: SubscriptionInput, production: boolean): SubscriptionInput {
  let url: URL
  try {
    url = new URL(input.endpoint)
  } catch {
    throw new UserError(422, 'That push subscription has no valid endpoint address.')
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1'
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local && !production)) {
    throw new UserError(422, 'Push endpoints must use HTTPS.')
  }
  const b64 = /^[A-Za-z0-9_-]+=*$/
  if (!b64.test(input.keys.p256dh) || Buffer.from(input.keys.p256dh, 'base64url').length !== 65) {
    throw new UserError(422, 'That push subscription has an invalid p256dh key.')
  }
  if (!b64.test(input.keys.auth) || Buffer.from(input.keys.auth, 'base64url').length < 16) {
    throw new UserError(422, 'That push subscription has an invalid auth secret.')
  }
  return input
}

/** Stores this device's push subscription for the person and audits it. */
export async function subscribePush(
  db: Db,
  request: {
    personId: number
    deviceId: number
    subscription: SubscriptionInput
    at: number
    context: RequestContext
  },
): Promise<void> {
  const { subscription } = request
  await unitOfWork(db, async (trx) => {
    await upsertPushSubscription(trx, {
      personId: request.personId,
      deviceId: request.deviceId,
      endpoint: subscription.endpoint,
      p256dh: subscription.keys.p256dh,
      auth: subscription.keys.auth,
      at: request.at,
    })
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'push.subscribed',
      context: request.context,
      detail: { deviceId: request.deviceId, host: new URL(subscription.endpoint).host },
    })
  })
}

/** Removes one of the person's subscriptions (push turned off on a device). */
export async function unsubscribePush(
  db: Db,
  request: { personId: number; endpoint: string; at: number; context: RequestContext },
): Promise<boolean> {
  return unitOfWork(db, async (trx) => {
    const removed = await deletePushSubscription(trx, request.personId, request.endpoint)
    if (removed) {
      await recordAudit(trx, {
        at: request.at,
        personId: request.personId,
        action: 'push.unsubscribed',
        context: request.context,
      })
    }
    return removed > 0
  })
}

/**
 * Sends a push to every device the person enabled push on. Subscriptions the push service reports
 * gone (404/410) are deleted. Returns whether at least one push service accepted the message, so a
 * caller can fall back to SMS or email when it did not.
 */
export async function sendPushToPerson(
  db: Db,
  personId: number,
  payload: PushPayload,
  options: PushOptions,
): Promise<boolean> {
  const subscriptions = await listPushSubscriptions(db, personId)
  if (subscriptions.length === 0) return false
  // Loaded on first use: the web process does not need it until someone turns notifications on.
  const { default: webPush } = await import('web-push')
  let accepted = false
  for (const sub of subscriptions) {
    const details = webPush.generateRequestDetails(
      { endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } },
      JSON.stringify(payload),
      { vapidDetails: options.vapid, TTL: 4 * 60 * 60, urgency: 'high', contentEncoding: 'aes128gcm' },
    )
    let status: number
    try {
      // web-push encrypts and signs; we send with fetch so any HTTP(S) push service URL works.
      const response = await fetch(details.endpoint, {
        method: details.method,
        headers: details.headers as Record<string, string>,
        body: details.body ?? undefined,
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
      await response.arrayBuffer()
      status = response.status
    } catch {
      continue
    }
    if (status === 404 || status === 410) {
      await deletePushSubscriptionById(db, sub.id)
    } else if (status >= 200 && status < 300) {
      accepted = true
      await markPushSuccess(db, sub.id, options.now)
    }
  }
  return accepted
}

/** The two answers a reminder notification offers. */
export type PushAction = 'left' | 'still-here'

interface ActionClaims {
  p: number
  v: number
  e: number
}

/**
 * A token for a notification's action buttons: it names one person and one open visit and
 * expires, so a click from the lock screen works without cookies and can only close that visit.
 */
export function signPushActionToken(
  key: Buffer,
  claims: { personId: number; visitId: number; expiresAt: number },
): string {
  const body = Buffer.from(
    JSON.stringify({ p: claims.personId, v: claims.visitId, e: claims.expiresAt }),
  ).toString('base64url')
  const mac = createHmac('sha256', key).update(`push-action:${body}`).digest('base64url')
  return `${body}.${mac}`
}

function verifyPushActionToken(key: Buffer, token: string, now: number): ActionClaims {
  const invalid = new UserError(403, 'This reminder link is not valid. Open the app to sign out.')
  const [body, mac] = token.split('.')
  if (!body || !mac) throw invalid
  const expected = createHmac('sha256', key).update(`push-action:${body}`).digest()
  const given = Buffer.from(mac, 'base64url')
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ActionClaims
  if (claims.e < now) throw new UserError(410, 'This reminder has expired. Open the app to sign out.')
  return claims
}

/**
 * The end-of-day reminder for a person's open visit, with "I've left" / "Still here" buttons.
 * Returns undefined when the person is not signed in.
 */
export async function reminderPushPayload(
  db: Db,
  key: Buffer,
  personId: number,
  now: number,
  site: RegisterSite,
): Promise<PushPayload | undefined> {
  const open = await findOpenVisit(db, personId)
  if (!open) return undefined
  const token = signPushActionToken(key, { personId, visitId: open.id, expiresAt: now + 12 * 60 * 60 * 1000 })
  return {
    title: 'Are you still in the building?',
    body: `You signed in at ${formatTime(open.signed_in_at, site.timeZone)} and have not signed out.`,
    tag: `reminder-${open.id}`,
    actions: [
      { action: 'left', title: 'I’ve left' },
      { action: 'still-here', title: 'Still here' },
    ],
    data: { token, url: '/' },
  }
}

/** What a notification button did; `stillHere`: a "Still here" was recorded (announce it). */
export type PushActionResult = TapResult & { personId: number; stillHere: boolean }

/**
 * Answers a notification button. "I've left" does what the reminder's "I've left" link does with no
 * time given (answerReminderOfVisit): it signs the person out of the reminded visit at the click
 * time if it is still open, corrects it if the nightly auto-close closed it (ends when that closed
 * it, closed by them: no longer Unconfirmed), and records "left" as the reminder's answer, also when
 * a sign-out came first. "Still here" is recorded as the link records it (answerStillHere). Clicking
 * twice changes nothing the second time.
 */
export async function answerPushAction(
  db: Db,
  request: { key: Buffer; token: string; action: PushAction; now: number; context: RequestContext },
  site: RegisterSite,
): Promise<PushActionResult> {
  const claims = verifyPushActionToken(request.key, request.token, request.now)
  if (request.action === 'still-here') return answerStillHere(db, claims, request, site)
  const unchanged = async (message: string) => ({
    personId: claims.p,
    changed: false,
    stillHere: false,
    presence: await presenceOf(db, claims.p, request.now, site),
    message,
  })
  let answered: Awaited<ReturnType<typeof answerReminderOfVisit>>
  try {
    answered = await answerReminderOfVisit(
      db,
      {
        personId: claims.p,
        visitId: claims.v,
        action: 'left',
        now: request.now,
        context: request.context,
        via: 'push',
      },
      site,
    )
  } catch (error) {
    if (!(error instanceof UserError)) throw error
    // The link's 410: its "I've left" was used already (nothing recorded, nothing changed).
    if (error.statusCode === 410) return unchanged('You already answered “I’ve left”, so nothing changed.')
    // The link's 422 asks for a time: the visit, left open on an earlier day, ends when they say.
    if (error.statusCode === 422) {
      return unchanged('Your visit is from an earlier day: open the register and tell us when you left.')
    }
    throw error
  }
  if (answered) {
    return {
      personId: claims.p,
      changed: answered.signedOut,
      stillHere: false,
      presence: await presenceOf(db, claims.p, request.now, site),
      message: answered.message,
    }
  }
  // A notification about a visit no reminder was made for (none go out so): its visit only.
  const open = await findOpenVisit(db, claims.p)
  if (!open || open.id !== claims.v) return unchanged('That visit is already closed.')
  const result = await signOut(
    db,
    { personId: claims.p, now: request.now, context: request.context, via: 'push' },
    site,
  )
  return { ...result, personId: claims.p, stillHere: false }
}

/**
 * "Still here" from the notification, recorded as the reminder's answer (the latest time counts)
 * and in the audit trail, as the link records it, also when the register already has the person
 * out: a sign-out saved on their phone before it, arriving later, then does not undo a visit the
 * auto-close closed (the fire list keeps them Unconfirmed, "said Still here at …"). Once out they are
 * told so and asked to sign in again, as the link tells them.
 */
async function answerStillHere(
  db: Db,
  claims: ActionClaims,
  request: { now: number; context: RequestContext },
  site: RegisterSite,
): Promise<PushActionResult> {
  const recorded = await unitOfWork(db, async (trx) => {
    // The visit first (PostgreSQL: its row, held to the commit): a sign-out saved offline before
    // this and arriving now either waits and then sees the answer, or closed the visit first.
    const visit = await lockVisit(trx, claims.v)
    if (!visit || visit.person_id !== claims.p) return { visit: undefined, answered: false }
    const reminder = await findReminderOfVisit(trx, visit.id)
    // False once the reminder was answered "I've left": nothing to record, as the link would refuse.
    const answered = reminder ? await answerReminder(trx, reminder.id, 'still-here', request.now) : true
    if (answered) {
      await auditReminderAnswer(
        trx,
        { personId: claims.p, reminderId: reminder?.id, visitId: visit.id, answer: 'still-here' },
        { ...request, via: 'push' },
      )
    }
    return { visit, answered }
  })
  const { visit } = recorded
  if (visit && visit.signed_out_at === null) {
    return {
      personId: claims.p,
      changed: false,
      stillHere: recorded.answered,
      presence: { state: 'in', visit },
      message: 'Thanks. You are still signed in.',
    }
  }
  // Out of the reminded visit; signed in again since (another visit open), or not.
  const presence = await presenceOf(db, claims.p, request.now, site)
  return {
    personId: claims.p,
    changed: false,
    stillHere: recorded.answered,
    presence,
    message: presence.state === 'out' ? stillHereButSignedOut : stillHereSignedInAgain,
  }
}
