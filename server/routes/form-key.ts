import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyRequest } from 'fastify'
import type { Db } from '../db/connect.js'
import { IdempotencyKeyReused, IdempotentRequestInFlight, idempotent } from '../register/idempotency.js'

/** The hidden field of a form that must act once: a key made fresh each time the page is shown. */
const formKeyField = { type: 'string', pattern: '^[A-Za-z0-9-]{1,100}$' } as const

/** A form's body schema with the hidden `formKey` field beside its own. */
export function withFormKey<S extends { properties: Record<string, unknown> }>(schema: S): S {
  return { ...schema, properties: { ...schema.properties, formKey: formKeyField } }
}

/** A fresh key for a form page (rendered as `<input type="hidden" name="formKey">`). */
export const newFormKey = (): string => randomUUID()

/** The message when a form's key comes back with other details (a page kept open and used again). */
export const FORM_USED = 'This form was already sent with other details. Check them and send it again.'

/** How long a copy of a form waits for the first to finish before giving up with a 409. */
const WAIT_FOR_FIRST_MS = 10_000
const POLL_MS = 50

/**
 * Runs a form's action once per key the page carried, for the device that sent it: the same form
 * sent again (a double click, a double Enter, the browser resending) does nothing more and gets the
 * first answer. A copy that arrives while the first is still running waits for it and answers as it
 * did (or, if the first failed, runs itself, to fail or succeed the same way). The key sent again with
 * other fields is 'reused': the caller shows the form again. A form without a key (a page from
 * before keys) simply runs.
 */
export async function oncePerForm<T>(
  db: Db,
  request: FastifyRequest,
  form: { key: string | undefined; fields: unknown; at: () => number },
  run: () => Promise<T>,
): Promise<{ reused: false; value: T } | { reused: true }> {
  if (form.key === undefined) return { reused: false, value: await run() }
  const deadline = Date.now() + WAIT_FOR_FIRST_MS
  for (;;) {
    try {
      const value = await idempotent(
        db,
        {
          deviceId: request.device!.id,
          key: `form:${form.key}`,
          at: form.at(),
          request: { method: request.method, path: request.url, body: form.fields },
        },
        run,
      )
      return { reused: false, value }
    } catch (error) {
      if (error instanceof IdempotencyKeyReused) return { reused: true }
      if (!(error instanceof IdempotentRequestInFlight) || Date.now() > deadline) throw error
    }
    await sleep(POLL_MS)
  }
}
