import http from 'node:http'
import https from 'node:https'
import ipaddr from 'ipaddr.js'
import { Webhook } from 'standardwebhooks'
import { recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { findPersonById } from '../identity/person.repository.js'
import type { Messenger } from '../messaging/messenger.js'
import { findVisitor } from '../visitors/visitor.repository.js'
import { TEST_EVENT_TYPE } from './events.js'
import { decryptSecret } from './secret.js'
import { isPublicAddress, publicOnlyLookup, RefusedTargetError } from './target.js'
import {
  adminContacts,
  claimDelivery,
  fanOutEvents,
  findEndpoint,
  findWebhookEvent,
  lastEventId,
  listDueDeliveries,
  listEndpoints,
  listEventsToFanOut,
  markFannedOutUpTo,
  purgeWebhookHistory,
  recordAttempt,
  setEndpointEnabled,
  type WebhookDelivery,
} from './webhook.repository.js'

/**
 * Waits after each failed attempt (Standard Webhooks' suggested schedule): about 27 hours in all.
 * After the last one the event is given up and the endpoint disabled.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]

/** How long a sender holds a delivery before another process may take it over. */
const LEASE_MS = 120_000

/** Delivered or failed deliveries and their events are forgotten after this long. */
export const WEBHOOK_HISTORY_MS = 30 * 24 * 3600_000

/** What the delivery engine needs. */
export interface WebhookDeps {
  db: Db
  clock: { now(): number }
  key: Buffer
  allowPrivate: boolean
  timeoutMs: number
  messenger?: Pick<Messenger, 'send'>
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void }
}

/** The answer of one attempt. */
interface AttemptResult {
  status: number | null
  error: string | null
}

/** Posts a body to a URL once, connecting only to a public address unless allowPrivate. */
export async function postOnce(
  url: URL,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs: number },
): Promise<AttemptResult> {
  const host = url.hostname.replace(/^\[|\]$/g, '')
  // A literal address is connected to without a lookup: judge it here.
  if (!options.allowPrivate && ipaddr.isValid(host) && !isPublicAddress(host)) {
    return { status: null, error: `refused: ${host} is not a public address` }
  }
  const client = url.protocol === 'https:' ? https : http
  return new Promise((resolve) => {
    const request = client.request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        lookup: publicOnlyLookup(options.allowPrivate),
        timeout: options.timeoutMs,
      },
      (response) => {
        // Only the status matters; read (and drop) the body so the socket is freed.
        response.resume()
        response.on('end', () => resolve({ status: response.statusCode ?? null, error: null }))
        response.on('error', (error) =>
          resolve({ status: response.statusCode ?? null, error: error.message }),
        )
      },
    )
    request.on('timeout', () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
    request.on('error', (error) =>
      resolve({
        status: null,
        error: error instanceof RefusedTargetError ? `refused: ${error.message}` : error.message,
      }),
    )
    request.end(body)
  })
}

/** The visitor a visitor event is about (its audit detail carries the id). */
const visitorIdOf = (data: Record<string, unknown>) =>
  typeof data.visitorId === 'number' ? data.visitorId : undefined

/**
 * The JSON body of an event: type, timestamp and data, with the person's current name. A visitor
 * event carries the visitor (name, company, host) as they are now, and the person who signed them
 * in or out, if anyone did, as `by` (a kiosk is nobody).
 */
export async function payloadOf(
  db: Db,
  event: { id: number; type: string; person_id: number | null; data: string; occurred_at: number },
): Promise<string> {
  const data = JSON.parse(event.data) as Record<string, unknown>
  const visitorId = visitorIdOf(data)
  if (event.person_id !== null) {
    const person = await findPersonById(db, event.person_id)
    data[visitorId === undefined ? 'person' : 'by'] = person
      ? { id: person.id, firstName: person.first_name, lastName: person.last_name }
      : { id: event.person_id }
  }
  if (visitorId !== undefined) {
    // Purged visitors (VISITOR_RETENTION_DAYS) are announced by id only.
    const visitor = await findVisitor(db, visitorId)
    data.visitor = visitor
      ? { id: visitor.id, name: visitor.name, company: visitor.company, hostPersonId: visitor.host_person_id }
      : { id: visitorId }
  }
  return JSON.stringify({ type: event.type, timestamp: new Date(event.occurred_at).toISOString(), data })
}

/** Turns new events into deliveries for the endpoints that want them (test events: their endpoint). */
export async function fanOut(deps: WebhookDeps): Promise<number> {
  let count = 0
  for (;;) {
    // Read before the endpoints: an event after an endpoint was enabled is never marked unread.
    const upTo = await lastEventId(deps.db)
    const endpoints = (await listEndpoints(deps.db)).filter((e) => e.enabled === 1)
    // No endpoint enabled (most sites): nobody is owed a delivery, so the events are marked in one
    // statement, unread, not a page at a time through JSON and a commit each (every tap writes one).
    if (endpoints.length === 0) return count + (await markFannedOutUpTo(deps.db, upTo, deps.clock.now()))
    // Only events up to there: a later one may be owed to an endpoint enabled since (next pass).
    const events = await listEventsToFanOut(deps.db, 100, upTo)
    if (events.length === 0) return count
    const page = events.map((event) => {
      const data = JSON.parse(event.data) as Record<string, unknown>
      const targets =
        event.type === TEST_EVENT_TYPE
          ? endpoints.filter((e) => e.id === data.endpointId)
          : endpoints.filter((e) => e.events.split(' ').includes(event.type))
      // In order per person, and per visitor: a visitor's leaving never overtakes their arrival,
      // whoever (reception, a kiosk) signed them in and out.
      const visitorId = visitorIdOf(data)
      const orderKey =
        visitorId !== undefined
          ? `visitor:${visitorId}`
          : event.person_id !== null
            ? `person:${event.person_id}`
            : `event:${event.type}`
      return { eventId: event.id, deliveries: targets.map((e) => ({ endpointId: e.id, orderKey })) }
    })
    // The page's deliveries and marks in one commit: all of them, or none (then the next pass redoes it).
    await unitOfWork(deps.db, (trx) => fanOutEvents(trx, page, deps.clock.now()))
    count += page.length
  }
}

/** Makes one attempt at one delivery and records it; disables the endpoint when retries run out. */
async function attempt(deps: WebhookDeps, delivery: WebhookDelivery): Promise<void> {
  const now = deps.clock.now()
  if (!(await claimDelivery(deps.db, delivery.id, now, now + LEASE_MS))) return
  const endpoint = await findEndpoint(deps.db, delivery.endpoint_id)
  const event = await findWebhookEvent(deps.db, delivery.event_id)
  if (!endpoint || !event) return
  const body = await payloadOf(deps.db, event)
  const msgId = `msg_${event.id}`
  const sentAt = new Date()
  let result: AttemptResult
  try {
    const signature = new Webhook(decryptSecret(deps.key, endpoint.secret_encrypted)).sign(
      msgId,
      sentAt,
      body,
    )
    result = await postOnce(
      new URL(endpoint.url),
      body,
      {
        'webhook-id': msgId,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': signature,
        'user-agent': 'BuildingRegister-Webhooks/1',
      },
      deps,
    )
  } catch (error) {
    result = { status: null, error: error instanceof Error ? error.message : String(error) }
  }
  const attempts = delivery.attempts + 1
  const ok = result.status !== null && result.status >= 200 && result.status < 300
  const at = deps.clock.now()
  const givenUp = !ok && attempts > RETRY_DELAYS_MS.length
  await recordAttempt(deps.db, delivery.id, {
    state: ok ? 'delivered' : givenUp ? 'failed' : 'pending',
    attempts,
    nextAttemptAt: ok || givenUp ? at : at + RETRY_DELAYS_MS[attempts - 1]!,
    status: result.status,
    error: ok ? null : (result.error ?? `answered ${result.status}`).slice(0, 500),
    at,
  })
  if (!ok)
    deps.log.warn(
      { endpointId: endpoint.id, deliveryId: delivery.id, attempts, ...result },
      'webhook delivery failed',
    )
  if (givenUp) await disableFailingEndpoint(deps, endpoint.id, endpoint.url, at)
}

/** Disables an endpoint that failed for a day, audits it and tells every admin. */
async function disableFailingEndpoint(
  deps: WebhookDeps,
  endpointId: number,
  url: string,
  at: number,
): Promise<void> {
  const reason = `Disabled automatically on ${new Date(at).toISOString()}: every delivery failed for about a day.`
  await setEndpointEnabled(deps.db, endpointId, false, reason)
  await recordAudit(deps.db, {
    at,
    personId: null,
    action: 'webhook.disabled',
    context: { ip: '-', userAgent: 'task:deliver-webhooks' },
    detail: { endpointId, reason: 'kept failing' },
  })
  deps.log.error({ endpointId }, 'webhook endpoint disabled after a day of failures')
  if (!deps.messenger) return
  const told = new Set<number>()
  for (const admin of await adminContacts(deps.db)) {
    if (told.has(admin.personId)) continue
    try {
      await deps.messenger.send({ kind: admin.kind, value: admin.value }, 'webhook-disabled', {
        firstName: admin.first_name,
        url,
        endpointId,
      })
      told.add(admin.personId)
    } catch (err) {
      deps.log.warn({ err, endpointId }, 'could not tell an admin about a disabled webhook')
    }
  }
}

/**
 * One pass: fans out new events, then attempts every due delivery (each person's events in order
 * per endpoint), and forgets old history. Safe to run in several processes at once (leases).
 */
export async function runWebhookPass(deps: WebhookDeps): Promise<{ attempted: number }> {
  await fanOut(deps)
  let attempted = 0
  // A delivery that succeeds can make the next event of the same person due: loop until quiet.
  for (let round = 0; round < 50; round++) {
    const due = await listDueDeliveries(deps.db, deps.clock.now(), 50)
    if (due.length === 0) break
    // One attempt per order key per round, so a person's later event waits for the earlier one.
    const seen = new Set<string>()
    const batch = due.filter((d) => {
      const key = `${d.endpoint_id} ${d.order_key}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
    await Promise.all(batch.map((d) => attempt(deps, d)))
    attempted += batch.length
    const stillDue = await listDueDeliveries(deps.db, deps.clock.now(), 1)
    if (stillDue.length === 0) break
  }
  await purgeWebhookHistory(deps.db, deps.clock.now() - WEBHOOK_HISTORY_MS)
  return { attempted }
}
