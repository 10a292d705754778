import type { Db } from '../db/connect.js'
import type { PushSubscriptionRow } from '../db/database.js'

/** Stores a subscription, or moves an existing endpoint to this person and device. */
export async function upsertPushSubscription(
  db: Db,
  row: {
    personId: number
    deviceId: number | null
    endpoint: string
    p256dh: string
    auth: string
    at: number
  },
): Promise<void> {
  await db
    .insertInto('push_subscription')
    .values({
      person_id: row.personId,
      device_id: row.deviceId,
      endpoint: row.endpoint,
      p256dh: row.p256dh,
      auth: row.auth,
      created_at: row.at,
      last_success_at: null,
    })
    .onConflict((oc) =>
      oc.column('endpoint').doUpdateSet({
        person_id: row.personId,
        device_id: row.deviceId,
        p256dh: row.p256dh,
        auth: row.auth,
      }),
    )
    .execute()
}

/** A person's subscriptions on devices still signed in, newest first. */
export async function listPushSubscriptions(db: Db, personId: number): Promise<PushSubscriptionRow[]> {
  return (
    db
      .selectFrom('push_subscription')
      .leftJoin('device', 'device.id', 'push_subscription.device_id')
      .selectAll('push_subscription')
      .where('push_subscription.person_id', '=', personId)
      // A device that was logged out must not keep receiving the person's reminders.
      .where('device.revoked_at', 'is', null)
      .orderBy('push_subscription.id', 'desc')
      .execute()
  )
}

/** Whether this device has a subscription for this person. */
export async function hasPushSubscriptionForDevice(
  db: Db,
  personId: number,
  deviceId: number,
): Promise<boolean> {
  const row = await db
    .selectFrom('push_subscription')
    .select('id')
    .where('person_id', '=', personId)
    .where('device_id', '=', deviceId)
    .executeTakeFirst()
  return row !== undefined
}

/** Deletes one of a person's subscriptions by endpoint; returns how many rows went. */
export async function deletePushSubscription(db: Db, personId: number, endpoint: string): Promise<number> {
  const result = await db
    .deleteFrom('push_subscription')
    .where('person_id', '=', personId)
    .where('endpoint', '=', endpoint)
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** Deletes a subscription the push service says is gone (404/410). */
export async function deletePushSubscriptionById(db: Db, id: number): Promise<void> {
  await db.deleteFrom('push_subscription').where('id', '=', id).execute()
}

/** Notes a successful delivery. */
export async function markPushSuccess(db: Db, id: number, at: number): Promise<void> {
  await db.updateTable('push_subscription').set({ last_success_at: at }).where('id', '=', id).execute()
}
