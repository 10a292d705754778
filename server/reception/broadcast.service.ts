import { recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Broadcast, BroadcastAudience, BroadcastTemplate, ContactKind } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { listContacts } from '../identity/contact.repository.js'
import { findPersonById } from '../identity/person.repository.js'
import { UserError } from '../lib/errors.js'
import type { Clock } from '../lib/site-time.js'
import type { Messenger } from '../messaging/messenger.js'
import { findVisitor } from '../visitors/visitor.repository.js'
import {
  claimRecipient,
  findBroadcast,
  findRecipient,
  finishRecipient,
  insertBroadcast,
  insertRecipients,
  listActivePersonIds,
  listBroadcasts,
  listPendingRecipientIds,
  listRecipients,
  type RecipientLine,
  recordAnswer,
  requeueUndelivered,
} from './broadcast.repository.js'
import { type FireListSettings, fireList, staffOnFireList } from './presence.service.js'
import { readReplyToken, replyLinks, type SafetyAnswer } from './reply-links.js'
import { findActiveRollCall } from './roll-call.repository.js'
import { type Actor, recordSelfAnswer, recordVisitorSelfAnswer } from './roll-call.service.js'

/** The ready-made messages reception starts from; "free" starts empty. */
export const broadcastTemplates: Record<
  BroadcastTemplate,
  { label: string; subject: string; message: string; askSafety: boolean }
> = {
  drill: {
    label: 'Fire drill',
    subject: 'Fire drill',
    message:
      'This is a fire drill. Please leave the building now by the nearest exit and go to the assembly point.',
    askSafety: true,
  },
  evacuation: {
    label: 'Real evacuation',
    subject: 'EVACUATE NOW',
    message:
      'EMERGENCY: leave the building now by the nearest safe exit and go to the assembly point. Do not use the lifts.',
    askSafety: true,
  },
  closure: {
    label: 'Building closure',
    subject: 'Building closed',
    message: 'The building is closed today. Please do not come in.',
    askSafety: false,
  },
  free: { label: 'Free text', subject: 'Message from reception', message: '', askSafety: false },
}

/** Reply links stop working after a week: an old answer says nothing about today. */
export const replyLinkLifetimeMs = 7 * 24 * 60 * 60 * 1000

/** At most this many characters, so a message fits a few SMS segments with its links. */
export const maxBroadcastLength = 600

/** What sending needs: the database, the messenger, the key that signs reply links. */
export interface BroadcastDeps {
  db: Db
  messenger: Messenger
  clock: Clock
  linksKey: Buffer
  publicUrl: string
  timeZone: string
}

/**
 * Saves a broadcast and its recipients (everyone on the fire list now, or every active person), all pending.
 * Sending happens afterwards, in `deliverBroadcast`, so the page answers at once.
 */
export async function createBroadcast(
  deps: Pick<BroadcastDeps, 'db'> & { fireList: FireListSettings },
  request: Actor & {
    template: BroadcastTemplate
    audience: BroadcastAudience
    message: string
    askSafety: boolean
  },
): Promise<Broadcast> {
  const message = request.message.trim()
  if (!message) throw new UserError(422, 'Write the message to send.')
  if (message.length > maxBroadcastLength) {
    throw new UserError(
      422,
      `Keep the message under ${maxBroadcastLength} characters (it has ${message.length}).`,
    )
  }
  return unitOfWork(deps.db, async (trx) => {
    // Everyone on the fire list, unconfirmed too: a possible presence must hear the alarm. That
    // includes visitors (by the phone or email they gave); "everyone registered" is staff.
    const list = request.audience === 'inside' ? await fireList(trx, request.at, deps.fireList) : undefined
    const personIds = list ? staffOnFireList(list).map((p) => p.personId) : await listActivePersonIds(trx)
    const visitorIds = list ? list.visitors.map((v) => v.visitorId) : []
    if (personIds.length + visitorIds.length === 0) {
      throw new UserError(
        422,
        request.audience === 'inside'
          ? 'Nobody is in the building now, so there is nobody to send to.'
          : 'There is nobody to send to.',
      )
    }
    const running = await findActiveRollCall(trx)
    const broadcast = await insertBroadcast(trx, {
      template: request.template,
      audience: request.audience,
      message,
      askSafety: request.askSafety,
      rollCallId: running?.id ?? null,
      by: request.personId,
      at: request.at,
    })
    await insertRecipients(trx, broadcast.id, { personIds, visitorIds })
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: 'broadcast.created',
      context: request.context,
      detail: {
        broadcastId: broadcast.id,
        template: broadcast.template,
        audience: broadcast.audience,
        recipients: personIds.length + visitorIds.length,
        visitors: visitorIds.length,
        askSafety: request.askSafety,
        message,
      },
    })
    return broadcast
  })
}

/** The contacts to try for a person, in order: phone first (fastest to be read), then email. */
function contactsToTry(
  contacts: { kind: ContactKind; value: string }[],
  kinds: readonly ContactKind[],
): { kind: ContactKind; value: string }[] {
  const order: ContactKind[] = ['phone', 'email']
  return order.flatMap((kind) => (kinds.includes(kind) ? contacts.filter((c) => c.kind === kind) : []))
}

/**
 * Whom a recipient row stands for: their first name for the greeting, the contacts to try (phone
 * first), and what to say when there is none. A visitor is reached by the phone or email they gave.
 */
async function addressee(
  db: Db,
  recipient: { person_id: number | null; visitor_id: number | null },
): Promise<{ firstName: string; contacts: { kind: ContactKind; value: string }[]; none: string }> {
  if (recipient.person_id !== null) {
    const person = await findPersonById(db, recipient.person_id)
    return {
      firstName: person?.first_name ?? '',
      contacts: await listContacts(db, recipient.person_id),
      none: 'No verified contact we can send to.',
    }
  }
  const visitor = recipient.visitor_id === null ? undefined : await findVisitor(db, recipient.visitor_id)
  return {
    firstName: visitor?.name.split(/\s+/)[0] ?? '',
    contacts: [
      ...(visitor?.phone ? [{ kind: 'phone' as const, value: visitor.phone }] : []),
      ...(visitor?.email ? [{ kind: 'email' as const, value: visitor.email }] : []),
    ],
    none: 'The visitor gave no phone number or email we can send to.',
  }
}

/**
 * Sends a broadcast's pending deliveries, a few at a time, each through the person's first
 * verified contact that works (phone, then email). Each outcome is recorded on its recipient row
 * with the provider's id; `onProgress` runs after each one (to update live boards).
 */
export async function deliverBroadcast(
  deps: BroadcastDeps,
  broadcastId: number,
  onProgress: () => void = () => {},
): Promise<{ sent: number; failed: number }> {
  const { db, messenger, clock } = deps
  const broadcast = await findBroadcast(db, broadcastId)
  if (!broadcast) throw new UserError(404, 'There is no such message.')
  const template = broadcastTemplates[broadcast.template]
  const queue = await listPendingRecipientIds(db, broadcastId)
  let sent = 0
  let failed = 0
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
      const recipient = await claimRecipient(db, id)
      if (!recipient) continue
      const to = await addressee(db, recipient)
      const candidates = contactsToTry(to.contacts, messenger.kinds)
      const links = replyLinks(deps.linksKey, deps.publicUrl, recipient.id)
      let outcome: Parameters<typeof finishRecipient>[2] = {
        status: 'failed',
        contact: null,
        channel: null,
        providerId: null,
        messageId: null,
        error: to.none,
        at: clock.now(),
      }
      for (const contact of candidates) {
        try {
          const result = await messenger.send(contact, 'broadcast', {
            subject: template.subject,
            message: broadcast.message,
            firstName: to.firstName,
            askSafety: broadcast.ask_safety === 1,
            safeUrl: links.safe,
            helpUrl: links.help,
          })
          outcome = {
            status: 'sent',
            contact,
            channel: result.channel,
            providerId: result.providerId ?? null,
            // A messenger that keeps a message log says which row; delivery reports update it.
            messageId:
              'messageId' in result && typeof result.messageId === 'number' ? result.messageId : null,
            error: null,
            at: clock.now(),
          }
          break
        } catch (error) {
          outcome = {
            status: 'failed',
            contact,
            channel: null,
            providerId: null,
            messageId: null,
            error: error instanceof Error ? error.message.slice(0, 300) : 'Sending failed.',
            at: clock.now(),
          }
        }
      }
      await finishRecipient(db, recipient.id, outcome)
      if (outcome.status === 'sent') sent++
      else failed++
      onProgress()
    }
  }
  await Promise.all(Array.from({ length: 4 }, worker))
  return { sent, failed }
}

/**
 * Puts a broadcast's failed deliveries back in the queue, and stuck ones when no sender is at work
 * on this broadcast (then call `deliverBroadcast`); returns how many wait to be sent.
 */
export async function retryBroadcast(
  db: Db,
  request: Actor & { broadcastId: number; senderRunning: boolean },
): Promise<number> {
  const broadcast = await findBroadcast(db, request.broadcastId)
  if (!broadcast) throw new UserError(404, 'There is no such message.')
  const requeued = await requeueUndelivered(db, broadcast.id, !request.senderRunning)
  await recordAudit(db, {
    at: request.at,
    personId: request.personId,
    action: 'broadcast.retried',
    context: request.context,
    detail: { broadcastId: broadcast.id, requeued },
  })
  return requeued
}

/** What a reply link stands for, for its landing page. */
export async function readReply(
  db: Db,
  linksKey: Buffer,
  token: string,
  now: number,
): Promise<{
  broadcast: Broadcast
  recipientId: number
  broadcastId: number
  /** The member of staff who answers, or null for a visitor (then `visitorId`). */
  personId: number | null
  visitorId: number | null
  answer: SafetyAnswer
  firstName: string
}> {
  const parsed = readReplyToken(linksKey, token)
  const recipient = parsed ? await findRecipient(db, parsed.recipientId) : undefined
  const person = recipient?.person_id != null ? await findPersonById(db, recipient.person_id) : undefined
  const visitor = recipient?.visitor_id != null ? await findVisitor(db, recipient.visitor_id) : undefined
  const broadcast = recipient ? await findBroadcast(db, recipient.broadcast_id) : undefined
  if (!parsed || !recipient || !(person || visitor) || !broadcast) {
    throw new UserError(404, 'This link is not valid. Tell reception directly.')
  }
  if (now - broadcast.created_at > replyLinkLifetimeMs) {
    throw new UserError(410, 'This message is too old to answer. If you need help, tell reception directly.')
  }
  return {
    broadcast,
    recipientId: recipient.id,
    broadcastId: recipient.broadcast_id,
    personId: person?.id ?? null,
    visitorId: person ? null : visitor!.id,
    answer: parsed.answer,
    firstName: person ? person.first_name : (visitor!.name.split(/\s+/)[0] ?? ''),
  }
}

/**
 * Records a recipient's answer from their reply link. Each link works once; the other link can
 * still change the answer. The answer lands on the running roll call as marked by "self".
 */
export async function answerBroadcast(
  db: Db,
  request: { linksKey: Buffer; token: string; at: number; context: Actor['context'] },
): Promise<{ recorded: boolean; answer: SafetyAnswer; broadcastId: number; rollCallId: number | null }> {
  const reply = await readReply(db, request.linksKey, request.token, request.at)
  return unitOfWork(db, async (trx) => {
    const updated = await recordAnswer(trx, reply.recipientId, reply.answer, request.at)
    if (!updated)
      return { recorded: false, answer: reply.answer, broadcastId: reply.broadcastId, rollCallId: null }
    await recordAudit(trx, {
      at: request.at,
      personId: reply.personId,
      action: 'broadcast.answered',
      context: request.context,
      detail: {
        broadcastId: reply.broadcastId,
        answer: reply.answer,
        ...(reply.visitorId !== null ? { visitorId: reply.visitorId } : {}),
      },
    })
    const rollCallId =
      reply.personId !== null
        ? await recordSelfAnswer(trx, {
            personId: reply.personId,
            at: request.at,
            context: request.context,
            answer: reply.answer,
            broadcast: reply.broadcast,
          })
        : await recordVisitorSelfAnswer(trx, {
            visitorId: reply.visitorId!,
            at: request.at,
            context: request.context,
            answer: reply.answer,
            broadcast: reply.broadcast,
          })
    return { recorded: true, answer: reply.answer, broadcastId: reply.broadcastId, rollCallId }
  })
}

/** The most recent broadcasts, newest first, with their delivery and answer counts. */
export async function recentBroadcasts(db: Db, limit: number): ReturnType<typeof listBroadcasts> {
  return listBroadcasts(db, limit)
}

/** How a broadcast's deliveries and answers stand. */
export interface BroadcastCounts {
  total: number
  /** Not yet handed to a channel (pending or being sent). */
  waiting: number
  sent: number
  failed: number
  safe: number
  help: number
}

/** A broadcast with each recipient's delivery and answer, and the counts; 404 when there is none. */
export async function broadcastReport(
  db: Db,
  id: number,
): Promise<{ broadcast: Broadcast; recipients: RecipientLine[]; counts: BroadcastCounts }> {
  const broadcast = await findBroadcast(db, id)
  if (!broadcast) throw new UserError(404, 'There is no such message.')
  const recipients = await listRecipients(db, broadcast.id)
  const count = (s: string) => recipients.filter((r) => r.status === s).length
  const counts = {
    total: recipients.length,
    waiting: count('pending') + count('sending'),
    sent: count('sent'),
    failed: count('failed'),
    safe: recipients.filter((r) => r.answer === 'safe').length,
    help: recipients.filter((r) => r.answer === 'help').length,
  }
  return { broadcast, recipients, counts }
}
