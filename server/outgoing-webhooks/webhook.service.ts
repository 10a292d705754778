import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { UserError } from '../lib/errors.js'
import { isWebhookEventType, TEST_EVENT_TYPE } from './events.js'
import { encryptSecret, newWebhookSecret } from './secret.js'
import { checkWebhookUrl, RefusedTargetError } from './target.js'
import {
  findEndpoint,
  insertEndpoint,
  insertWebhookEvent,
  listDeliveriesOf,
  listEndpoints,
  markEndpointRemoved,
  setEndpointEnabled,
} from './webhook.repository.js'

/** Who acts, when and from where. */
export interface WebhookActor {
  personId: number
  at: number
  context: RequestContext
}

/** A form's problems, by field. */
export class WebhookFormError extends Error {
  constructor(readonly errors: Record<string, string>) {
    super(Object.values(errors).join(' '))
  }
}

/**
 * Adds an endpoint and returns its signing secret, which is shown once. The URL must reach a
 * public address unless WEBHOOKS_ALLOW_PRIVATE; at least one event must be chosen.
 */
export async function createWebhookEndpoint(
  db: Db,
  deps: { key: Buffer; allowPrivate: boolean },
  input: { url: string; description: string; events: string[] },
  actor: WebhookActor,
): Promise<{ id: number; secret: string }> {
  const errors: Record<string, string> = {}
  let url: URL | undefined
  try {
    url = await checkWebhookUrl(input.url.trim(), deps.allowPrivate)
  } catch (error) {
    if (!(error instanceof RefusedTargetError)) throw error
    errors.url = error.message
  }
  const events = [...new Set(input.events)].filter(isWebhookEventType)
  if (events.length === 0) errors.events = 'Choose at least one event to send.'
  if (input.description.length > 200) errors.description = 'Keep the description under 200 characters.'
  if (Object.keys(errors).length > 0 || !url) throw new WebhookFormError(errors)
  const secret = newWebhookSecret()
  const id = await unitOfWork(db, async (trx) => {
    const endpointId = await insertEndpoint(trx, {
      url: url.toString(),
      description: input.description.trim(),
      events: events.join(' '),
      secretEncrypted: encryptSecret(deps.key, secret),
      createdBy: actor.personId,
      at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'webhook.created',
      context: actor.context,
      detail: { endpointId, events },
    })
    return endpointId
  })
  return { id, secret }
}

async function mustFind(db: Db, id: number) {
  const endpoint = await findEndpoint(db, id)
  if (!endpoint) throw new UserError(404, 'There is no such webhook.')
  return endpoint
}

/** Turns an endpoint on or off by hand; turned on, its undelivered events resume in order. */
export async function setWebhookEnabled(
  db: Db,
  id: number,
  enabled: boolean,
  actor: WebhookActor,
): Promise<void> {
  await mustFind(db, id)
  await unitOfWork(db, async (trx) => {
    await setEndpointEnabled(trx, id, enabled, enabled ? null : 'Turned off by an admin.')
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: enabled ? 'webhook.enabled' : 'webhook.disabled',
      context: actor.context,
      detail: { endpointId: id },
    })
  })
}

/** Removes an endpoint; nothing more is sent to it. */
export async function removeWebhookEndpoint(db: Db, id: number, actor: WebhookActor): Promise<void> {
  await mustFind(db, id)
  await unitOfWork(db, async (trx) => {
    await markEndpointRemoved(trx, id, actor.at)
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'webhook.removed',
      context: actor.context,
      detail: { endpointId: id },
    })
  })
}

/** Queues a `webhook.test` event for one endpoint (sent like any other, with retries). */
export async function sendTestEvent(db: Db, id: number, actor: WebhookActor): Promise<void> {
  const endpoint = await mustFind(db, id)
  if (endpoint.enabled !== 1)
    throw new UserError(409, 'Turn the webhook on first: a test goes only to an enabled webhook.')
  await unitOfWork(db, async (trx) => {
    await insertWebhookEvent(trx, {
      type: TEST_EVENT_TYPE,
      personId: null,
      data: { endpointId: id, message: 'This is a test event from the admin page.' },
      at: actor.at,
    })
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: 'webhook.tested',
      context: actor.context,
      detail: { endpointId: id },
    })
  })
}

/** Every webhook (not removed), newest first, for the admin page. */
export async function webhookEndpoints(db: Db) {
  return listEndpoints(db)
}

/** One webhook and its delivery log (latest 50), or a 404. */
export async function webhookWithLog(db: Db, id: number) {
  const endpoint = await mustFind(db, id)
  return { endpoint, deliveries: await listDeliveriesOf(db, id) }
}
