import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import { autoClose } from '../../tasks/auto-close.task.js'
import { purge } from '../../tasks/purge.task.js'
import { ranBefore } from '../jobs/job-lease.repository.js'
import { fireList, fireListSettings } from '../reception/presence.service.js'
import { buildTestApp, loginAs, type TestApp } from '../testing/build-test-app.js'
import { makePerson, makeVisit } from '../testing/factories.js'
import { testDialect } from '../testing/test-database.js'
import { nextBatchSize, PURGE_BATCH, PURGE_BATCH_TARGET_MS, PURGE_MIN_BATCH } from './retention.js'

const DAY = 24 * 3600_000

async function seed(ctx: TestApp) {
  const db = ctx.app.ctx.db
  const now = ctx.clock.now()
  const cutoff = now - 90 * DAY
  await loginAs(ctx, 'admin@example.org', { firstName: 'Ada', lastName: 'Admin' })
  await loginAs(ctx, 'staff@example.org', { firstName: 'Sid', lastName: 'Staff' })
  const ids = await db.selectFrom('contact').select(['person_id', 'value']).execute()
  const admin = ids.find((r) => r.value === 'admin@example.org')!.person_id
  const staff = ids.find((r) => r.value === 'staff@example.org')!.person_id
  await db.updateTable('person').set({ role: 'admin' }).where('id', '=', admin).execute()
  // Only login traffic so far; start from a known state.
  await db.deleteFrom('audit_event').execute()
  await db.deleteFrom('login_code').execute()

  const visit = (signedIn: number, open = false) => ({
    person_id: staff,
    signed_in_at: signedIn,
    signed_out_at: open ? null : signedIn + 3600_000,
    closed_by: open ? null : ('person' as const),
  })
  const visits = await db
    .insertInto('visit')
    .values([visit(cutoff - 1), visit(cutoff), visit(now - DAY), visit(cutoff - 5 * DAY, true)])
    .returning('id')
    .execute()
  await db
    .insertInto('reminder')
    .values([
      {
        person_id: staff,
        day: '2026-08-01',
        visit_id: visits[3]!.id,
        created_at: cutoff - 1,
        status: 'sent',
      },
      { person_id: staff, day: '2026-11-22', visit_id: visits[2]!.id, created_at: now - DAY, status: 'sent' },
    ])
    .execute()
  const audit = (at: number) => ({ at, person_id: admin, action: 'test', ip: '-', user_agent: '-' })
  await db
    .insertInto('audit_event')
    .values(Array.from({ length: 2 * PURGE_BATCH + 7 }, (_, i) => audit(cutoff - 1 - i)))
    .execute()
  await db
    .insertInto('audit_event')
    .values([audit(cutoff), audit(now)])
    .execute()
  const code = (expiresAt: number) => ({
    contact_value: 'x@example.org',
    purpose: 'login' as const,
    person_id: null,
    code_hash: 'h',
    expires_at: expiresAt,
    created_at: expiresAt - 600_000,
    ip: '-',
  })
  await db
    .insertInto('login_code')
    .values([code(now - DAY - 1), code(now - 3600_000)])
    .execute()
  const device = (revokedAt: number | null, n: number) => ({
    person_id: admin,
    kind: 'api' as const,
    token_hash: `hash-${n}`,
    name: 'd',
    user_agent: '-',
    created_at: cutoff - 10 * DAY,
    last_used_at: cutoff - 10 * DAY,
    revoked_at: revokedAt,
  })
  const devices = await db
    .insertInto('device')
    .values([device(cutoff - 1, 1), device(now - DAY, 2), device(null, 3)])
    .returning('id')
    .execute()
  await db
    .insertInto('idempotency_key')
    .values([
      { device_id: devices[2]!.id, key: 'old', response: '{}', created_at: now - DAY - 1 },
      { device_id: devices[2]!.id, key: 'new', response: '{}', created_at: now - DAY + 3600_000 },
    ])
    .execute()
  const message = (createdAt: number) => ({
    channel: 'console',
    contact_kind: 'email' as const,
    contact_value: 'someone@example.org',
    person_id: null,
    purpose: 'login-code',
    provider_id: null,
    status: 'sent' as const,
    error: null,
    created_at: createdAt,
    updated_at: createdAt,
  })
  await db
    .insertInto('message')
    .values([message(cutoff - 1), message(cutoff + 1)])
    .execute()
  const event = (relayedAt: number | null) => ({
    topic: 'digest' as const,
    payload: '{}',
    created_at: relayedAt ?? cutoff,
    relayed_at: relayedAt,
  })
  await db
    .insertInto('outbox')
    .values([event(now - 8 * DAY), event(now - DAY), event(null)])
    .execute()
  const invitation = (expiresAt: number, n: number) => ({
    person_id: null,
    first_name: 'Ivy',
    last_name: 'Invited',
    contact_kind: 'email' as const,
    contact_value: `ivy${n}@example.org`,
    token_hash: `invitation-${n}`,
    status: 'sent' as const,
    error: null,
    message_id: null,
    created_by: admin,
    created_at: expiresAt - 14 * DAY,
    expires_at: expiresAt,
    claimed_at: null,
    sent_at: expiresAt - 14 * DAY,
    used_at: null,
    revoked_at: null,
  })
  await db
    .insertInto('invitation')
    .values([invitation(cutoff - 1, 1), invitation(cutoff + 1, 2)])
    .execute()
  return { admin, staff, cutoff, visits }
}

const counts = (list: { table: string; rows: number; skipped?: string }[]) =>
  Object.fromEntries(list.map((c) => [c.table, c.skipped ? c.skipped : c.rows]))

const expected = {
  visitor: 0,
  visit: 1,
  reminder: 1,
  audit_event: 2 * PURGE_BATCH + 7,
  message: 1,
  login_code: 1,
  device: 1,
  invitation: 1,
  idempotency_key: 1,
  outbox: 1,
  job_run: 0,
}

test('retention: a dry run counts, the purge deletes exactly what is past its age, and is audited', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const db = ctx.app.ctx.db
  const { admin, staff, visits } = await seed(ctx)
  const people = await db.selectFrom('person').select('id').execute()
  const rowCount = async (table: 'visit' | 'audit_event' | 'device') =>
    Number((await sql<{ n: number }>`select count(*) as n from ${sql.table(table)}`.execute(db)).rows[0]!.n)
  const auditBefore = await rowCount('audit_event')

  const dry = await purge(run, { dryRun: true })
  assert.deepEqual(counts(dry), expected)
  assert.equal(await rowCount('audit_event'), auditBefore, 'a dry run deletes nothing')
  assert.equal(await rowCount('visit'), 4)

  const done = await purge(run)
  assert.deepEqual(counts(done), expected)
  const left = await db.selectFrom('visit').select('id').orderBy('id').execute()
  assert.deepEqual(
    left.map((v) => v.id),
    [visits[1]!.id, visits[2]!.id, visits[3]!.id],
    'the visit at the cut-off, the recent one and the open one stay',
  )
  assert.deepEqual(
    (await db.selectFrom('person').select('id').execute()).map((p) => p.id),
    people.map((p) => p.id),
    'nobody is deleted: not the admin with no visits, not staff',
  )
  assert.ok(
    await db
      .selectFrom('person')
      .select('id')
      .where('id', '=', admin)
      .where('role', '=', 'admin')
      .executeTakeFirst(),
  )
  assert.ok(staff)
  assert.equal(
    await rowCount('device'),
    2 + 2,
    'the two login devices, the recently revoked and the live one',
  )
  assert.deepEqual(
    (await db.selectFrom('idempotency_key').select('key').execute()).map((k) => k.key),
    ['new'],
  )
  assert.equal((await db.selectFrom('outbox').select('id').execute()).length, 2)

  const audit = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'retention.purged')
    .executeTakeFirstOrThrow()
  assert.equal(audit.user_agent, 'task:purge')
  assert.deepEqual(JSON.parse(audit.detail).deleted.audit_event, 2 * PURGE_BATCH + 7)
  assert.equal(
    await rowCount('audit_event'),
    3,
    'the row at the cut-off, the recent one and the purge record',
  )
  assert.deepEqual(counts(await purge(run)).visit, 0, 'a second purge finds nothing more')
})

test('retention: --days overrides the period (message log)', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const db = ctx.app.ctx.db
  const now = ctx.clock.now()
  for (const createdAt of [now - 31 * DAY, now - 29 * DAY]) {
    await db
      .insertInto('message')
      .values({
        channel: 'console',
        contact_kind: 'phone',
        contact_value: '+447400123456',
        person_id: null,
        purpose: 'reminder',
        provider_id: null,
        status: 'delivered',
        error: null,
        created_at: createdAt,
        updated_at: createdAt,
      })
      .execute()
  }
  const result = counts(await purge(run, { days: 30 }))
  assert.equal(result.message, 1)
  const rest = await sql<{ created_at: number }>`select created_at from message`.execute(db)
  assert.deepEqual(
    rest.rows.map((r) => r.created_at),
    [now - 29 * DAY],
  )
})

test('retention: visitors go after VISITOR_RETENTION_DAYS with their photo and roll-call copies; open visits and coming invitations stay; dry run first', async (t) => {
  const ctx = await buildTestApp(t, { env: { RETENTION_DAYS: '90', VISITOR_RETENTION_DAYS: '30' } })
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const db = ctx.app.ctx.db
  const now = ctx.clock.now()
  const visitor = (name: string, v: { in: number | null; out?: number; created?: number; day?: string }) => ({
    name,
    company: 'Acme',
    host_person_id: null,
    host_text: null,
    phone: '+447400123456',
    email: null,
    notice_id: null,
    notice_accepted_at: null,
    expected_day: v.day ?? null,
    invited_by: null,
    kiosk_id: null,
    signed_in_via: v.in === null ? null : ('reception' as const),
    signed_in_at: v.in,
    signed_out_at: v.out ?? null,
    closed_by: v.out ? ('visitor' as const) : null,
    client_key: null,
    host_notified_at: null,
    reminded_at: null,
    photo: 'data:image/jpeg;base64,AAAA',
    created_at: v.created ?? v.in ?? now,
  })
  const rows = await db
    .insertInto('visitor')
    .values([
      visitor('Gone Long', { in: now - 32 * DAY, out: now - 31 * DAY }),
      visitor('Left Lately', { in: now - 30 * DAY, out: now - 29 * DAY }),
      visitor('Never Came', { in: null, created: now - 40 * DAY, day: '2026-10-01' }),
      visitor('Coming Later', { in: null, created: now - 40 * DAY, day: '2027-01-15' }),
      visitor('Still Inside', { in: now - 40 * DAY }),
    ])
    .returning(['id', 'name'])
    .execute()
  const id = (name: string) => rows.find((r) => r.name === name)!.id
  const call = await db
    .insertInto('roll_call')
    .values({
      kind: 'drill',
      started_at: now - 31 * DAY - 3600_000,
      started_by: null,
      ended_at: null,
      ended_by: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  await db
    .insertInto('roll_call_visitor')
    .values({
      roll_call_id: call.id,
      visitor_id: id('Gone Long'),
      name: 'Gone Long',
      company: 'Acme',
      host_name: '',
      phone: '+447400123456',
      signed_in_at: now - 32 * DAY,
    })
    .execute()
  const names = async () =>
    (await db.selectFrom('visitor').select('name').orderBy('id').execute()).map((r) => r.name)

  assert.equal(counts(await purge(run, { dryRun: true })).visitor, 2)
  assert.equal((await names()).length, 5, 'a dry run deletes nothing')
  assert.equal(counts(await purge(run)).visitor, 2)
  assert.deepEqual(await names(), ['Left Lately', 'Coming Later', 'Still Inside'])
  assert.equal(
    (await db.selectFrom('roll_call_visitor').selectAll().execute()).length,
    0,
    'the copy on the roll call too',
  )
  const audit = await db
    .selectFrom('audit_event')
    .select('detail')
    .where('action', '=', 'retention.purged')
    .executeTakeFirstOrThrow()
  assert.equal(JSON.parse(audit.detail).deleted.visitor, 2)
  assert.equal(JSON.parse(audit.detail).visitorDays, 30)
  // A shorter --days applies to visitors too.
  assert.equal(counts(await purge(run, { days: 10, dryRun: true })).visitor, 1)
})

test('retention: batches shrink when a delete holds the write lock too long, grow at most twofold, stay bounded', () => {
  assert.equal(nextBatchSize(100, 4 * PURGE_BATCH_TARGET_MS), 25, 'four times too slow: a quarter')
  assert.equal(nextBatchSize(100, PURGE_BATCH_TARGET_MS / 10), 200, 'much faster: at most doubled')
  assert.equal(nextBatchSize(400, 0), PURGE_BATCH, 'never above the largest batch')
  assert.equal(nextBatchSize(PURGE_MIN_BATCH, 1000), PURGE_MIN_BATCH, 'never below the smallest')
})

test('retention: deleting a visit finds the reminders pointing at it by index, not by a scan', {
  skip: testDialect !== 'sqlite' && "SQLite's query plan (PostgreSQL plans by table statistics)",
}, async (t) => {
  const ctx = await buildTestApp(t)
  const plan = await sql<{
    detail: string
  }>`explain query plan delete from visit where rowid in (select rowid from visit where signed_out_at is not null and signed_in_at < ${0} limit ${10})`.execute(
    ctx.app.ctx.db,
  )
  const details = plan.rows.map((r) => r.detail)
  assert.ok(
    details.some((d) => /visit USING (COVERING )?INDEX visit_signed_in_at/.test(d)),
    details.join('; '),
  )
  assert.ok(!details.some((d) => /^SCAN/.test(d)), details.join('; '))
})

test('retention: a purge never takes an auto-closed visit or visitor off the fire list while it still lists them', async (t) => {
  // The shortest periods, and the longest time the fire list keeps what the auto-close closed.
  const ctx = await buildTestApp(t, {
    env: { RETENTION_DAYS: '1', VISITOR_RETENTION_DAYS: '1', FIRE_LIST_AUTO_CLOSED_HOURS: '72' },
  })
  ctx.clock.set('2026-11-26T09:00:00Z')
  const { db } = ctx.app.ctx
  const sam = await makePerson(db, { firstName: 'Sam', lastName: 'Stayed', email: 'sam@example.org' })
  const gus = await makePerson(db, { firstName: 'Gus', lastName: 'Gone', email: 'gus@example.org' })
  // Closed by the auto-close two nights ago: still Unconfirmed on the fire list (within 72 hours);
  // so is Dee, deactivated by an admin that afternoon while inside.
  await makeVisit(db, sam, { in: '2026-11-24T08:00:00Z', out: '2026-11-24T23:59:00Z', closedBy: 'auto' })
  const dee = await makePerson(db, { firstName: 'Dee', lastName: 'Deactivated', email: 'dee@example.org' })
  await makeVisit(db, dee, {
    in: '2026-11-24T08:00:00Z',
    out: '2026-11-24T15:00:00Z',
    closedBy: 'deactivated',
  })
  await db
    .insertInto('visitor')
    .values({
      name: 'Vera Stayed',
      company: '',
      signed_in_at: Date.parse('2026-11-24T10:00:00Z'),
      signed_out_at: Date.parse('2026-11-24T23:59:00Z'),
      closed_by: 'auto',
      created_at: Date.parse('2026-11-24T10:00:00Z'),
    })
    .execute()
  // Signed out in person two days ago: past the one-day period, goes.
  await makeVisit(db, gus, { in: '2026-11-24T08:00:00Z', out: '2026-11-24T17:00:00Z' })
  const settings = { timeZone: 'Europe/London', stillHereHours: 2, autoClosedHours: 72 }
  const listed = async () => {
    const list = await fireList(db, ctx.clock.now(), settings)
    return [...list.unconfirmed.map((p) => p.firstName), ...list.visitors.map((v) => v.name)]
  }
  assert.deepEqual(await listed(), ['Dee', 'Sam', 'Vera Stayed'])
  await purge({ ...ctx.app.ctx, log: ctx.app.log })
  assert.deepEqual(await listed(), ['Dee', 'Sam', 'Vera Stayed'], 'the purge kept what the fire list shows')
  assert.deepEqual(
    (await db.selectFrom('visit').select('person_id').orderBy('person_id').execute()).map((v) => v.person_id),
    [sam, dee],
    'the visit signed out in person went',
  )
  // Once the fire list lets them go, so does the purge.
  ctx.clock.set('2026-11-28T00:00:00Z')
  assert.deepEqual(await listed(), [])
  await purge({ ...ctx.app.ctx, log: ctx.app.log })
  assert.equal((await db.selectFrom('visit').select('id').execute()).length, 0)
  assert.equal((await db.selectFrom('visitor').select('id').execute()).length, 0)
})

test('retention: a visit and a visitor the auto-close closed days late stay while the fire list shows them, counted from when it ran', async (t) => {
  const ctx = await buildTestApp(t, { env: { RETENTION_DAYS: '1', VISITOR_RETENTION_DAYS: '1' } })
  const { db } = ctx.app.ctx
  const sam = await makePerson(db, { firstName: 'Sam', lastName: 'Stayed', email: 'sam@example.org' })
  await makeVisit(db, sam, { in: '2026-11-23T09:00:00Z' })
  const arrived = Date.parse('2026-11-23T09:05:00Z')
  await db
    .insertInto('visitor')
    .values({ name: 'Vera Stayed', company: '', signed_in_at: arrived, created_at: arrived })
    .execute()
  // No auto-close ran all week: Friday's catches up Thursday night's, and closes Monday's visits at
  // the end of Monday, their own day (more than FIRE_LIST_AUTO_CLOSED_MAX_HOURS before).
  ctx.clock.set('2026-11-27T09:00:00Z')
  await autoClose({ ...ctx.app.ctx, log: ctx.app.log }, { asOf: Date.parse('2026-11-26T23:59:00Z') })
  ctx.clock.set('2026-11-27T10:00:00Z')
  const listed = async () => {
    const list = await fireList(db, ctx.clock.now(), fireListSettings(ctx.config))
    return [...list.unconfirmed.map((p) => p.firstName), ...list.visitors.map((v) => v.name)]
  }
  assert.deepEqual(await listed(), ['Sam', 'Vera Stayed'])
  await purge({ ...ctx.app.ctx, log: ctx.app.log })
  assert.deepEqual(await listed(), ['Sam', 'Vera Stayed'], 'the purge kept what the fire list shows')
  // FIRE_LIST_AUTO_CLOSED_MAX_HOURS (72) after the auto-close ran, the purge lets them go.
  ctx.clock.set('2026-11-30T09:01:00Z')
  await purge({ ...ctx.app.ctx, log: ctx.app.log })
  assert.equal((await db.selectFrom('visit').select('id').execute()).length, 0)
  assert.equal((await db.selectFrom('visitor').select('id').execute()).length, 0)
})

test('retention: the scheduler’s claimed occurrences (job_run) go after the retention period, a removed schedule’s last one too; a week’s stay however short the period', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const db = ctx.app.ctx.db
  const now = ctx.clock.now()
  const claim = (scheduleId: string, daysAgo: number, finished = true) => ({
    schedule_id: scheduleId,
    due_at: now - daysAgo * DAY,
    holder: 'host:1:abcd',
    started_at: now - daysAgo * DAY,
    finished_at: finished ? now - daysAgo * DAY + 1_000 : null,
  })
  await db
    .insertInto('job_run')
    .values([
      // Daily, and still running: the claims older than 90 days go.
      ...[95, 91, 90, 89, 6, 2, 1].map((d) => claim('send-reminders', d)),
      // Turned off 100 days ago, or removed (a digest time no longer set): nothing of it stays.
      // Turned on again, it waits for its first time, as on a new install.
      ...[102, 101, 100].map((d) => claim('auto-close', d)),
      claim('occupancy-digest-1000', 200),
      // A run killed mid-way long ago: only the latest occurrence is ever run again.
      claim('purge', 120, false),
    ])
    .execute()
  const left = async () =>
    (
      await db
        .selectFrom('job_run')
        .select(['schedule_id', 'due_at'])
        .orderBy('schedule_id')
        .orderBy('due_at')
        .execute()
    ).map((r) => `${r.schedule_id} ${Math.round((now - Number(r.due_at)) / DAY)}`)

  const dry = counts(await purge(run, { dryRun: true }))
  assert.equal(dry.job_run, 7, 'a dry run counts them')
  const done = counts(await purge(run))
  assert.equal(done.job_run, 7)
  assert.deepEqual(
    await left(),
    ['send-reminders 90', 'send-reminders 89', 'send-reminders 6', 'send-reminders 2', 'send-reminders 1'],
    'the claims within the period',
  )
  assert.equal(counts(await purge(run)).job_run, 0, 'a second purge finds nothing more')
  // A one-day period (`npm run purge -- --days 1`) keeps a week: catch-up still knows the schedule ran.
  assert.equal(counts(await purge(run, { days: 1 })).job_run, 2)
  assert.deepEqual(await left(), ['send-reminders 6', 'send-reminders 2', 'send-reminders 1'])
  assert.equal(await ranBefore(db, 'send-reminders', now), true)
})
