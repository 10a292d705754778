import { fireListSettings } from '../reception/presence.service.js'
import { endRollCall, rollCallView, startRollCall } from '../reception/roll-call.service.js'
import type { TestApp } from './build-test-app.js'
import { personWithRole } from './reception.js'

const context = { ip: '203.0.113.9', userAgent: 'test' }

/** Mo, the fire marshal (reception role) who starts a roll call. */
export const moMarshal = (ctx: TestApp) =>
  personWithRole(ctx, 'mo@example.org', { firstName: 'Mo', lastName: 'Marshal' }, 'reception')

/** A marshal starts a real evacuation's roll call now (or gets the one running). */
export async function marshalStarts(ctx: TestApp, marshalId: number) {
  const { rollCall } = await startRollCall(ctx.app.ctx.db, {
    personId: marshalId,
    at: ctx.clock.now(),
    context,
    kind: 'real',
    fireList: fireListSettings(ctx.config),
  })
  return rollCall
}

/** A marshal ends a running roll call now, keeping its report (in the site's time zone). */
export function marshalEnds(ctx: TestApp, marshalId: number, rollCallId: number) {
  return endRollCall(ctx.app.ctx.db, {
    personId: marshalId,
    at: ctx.clock.now(),
    context,
    rollCallId,
    timeZone: ctx.config.TIME_ZONE,
  })
}

/** A roll call's counts, as its page shows them. */
export async function rollCallCounts(ctx: TestApp, rollCallId: number) {
  return (await rollCallView(ctx.app.ctx.db, rollCallId)).counts
}

/** The audit rows of an action, oldest first: who, when, and the detail's fields. */
export async function auditedAs(ctx: TestApp, action: string) {
  const rows = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select(['person_id', 'at', 'detail'])
    .where('action', '=', action)
    .orderBy('id')
    .execute()
  return rows.map((r) => ({ personId: r.person_id, at: Number(r.at), ...JSON.parse(r.detail) }))
}
