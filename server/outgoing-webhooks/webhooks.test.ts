import assert from 'node:assert/strict'
import { test } from 'node:test'
import { deliverWebhooks } from '../../tasks/deliver-webhooks.task.js'
import { buildTestApp, type TestApp, type TestBrowser } from '../testing/build-test-app.js'
import { makePerson } from '../testing/factories.js'
import { FakeWebhookReceiver } from '../testing/fake-webhook-receiver.js'
import { pairedKiosk } from '../testing/kiosk.js'
import { deskReceptionist } from '../testing/reception.js'
import { apiTokenFor, loginWithRole } from '../testing/roles.js'
import { RETRY_DELAYS_MS } from './delivery.js'
import { isPublicAddress } from './target.js'
import { createWebhookEndpoint } from './webhook.service.js'

/** An app whose webhooks may target this machine (the receiver listens on 127.0.0.1). */
async function setup(t: Parameters<typeof buildTestApp>[0], env: Record<string, string> = {}) {
  const ctx = await buildTestApp(t, {
    env: { WEBHOOKS_ALLOW_PRIVATE: 'true', WEBHOOK_TIMEOUT_MS: '2000', ...env },
  })
  const receiver = await new FakeWebhookReceiver().start()
  t.after(() => receiver.stop())
  const { browser: admin } = await loginWithRole(ctx, 'admin@example.org', 'admin')
  return { ctx, receiver, admin, task: { ...ctx.app.ctx, log: ctx.app.log } }
}

/** Adds an endpoint through the admin page; the receiver learns the secret shown once. */
async function addEndpoint(
  admin: TestBrowser,
  receiver: FakeWebhookReceiver,
  events: string[],
): Promise<number> {
  await admin.get('/admin/webhooks')
  const body = new URLSearchParams({ _csrf: admin.csrfToken(), url: receiver.url, description: 'HR system' })
  for (const e of events) body.append('events', e)
  const created = await admin.request({
    method: 'POST',
    url: '/admin/webhooks',
    payload: body.toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  })
  assert.equal(created.statusCode, 200, created.body.slice(0, 500))
  const secret = /<code id="new-secret">(whsec_[A-Za-z0-9+/=]+)<\/code>/.exec(created.body)?.[1]
  assert.ok(secret, 'the secret is shown')
  receiver.secret = secret
  assert.ok(!(await admin.get('/admin/webhooks')).body.includes(secret.slice(6)), 'only once')
  const id = Number(/href="\/admin\/webhooks\/(\d+)"/.exec(created.body)?.[1])
  assert.ok(id > 0)
  return id
}

async function tap(ctx: TestApp, token: string, what: 'sign-in' | 'sign-out'): Promise<void> {
  const r = await ctx.app.inject({
    method: 'POST',
    url: `/api/v1/${what}`,
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(r.statusCode, 200)
  assert.equal(r.json().changed, true)
}

test('a sign-in reaches the endpoint signed (Standard Webhooks), once; the test button and the log work', async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  const id = await addEndpoint(admin, receiver, ['visit.signed_in', 'visit.signed_out'])
  const secretRow = await ctx.app.ctx.db
    .selectFrom('webhook_endpoint')
    .select('secret_encrypted')
    .executeTakeFirstOrThrow()
  assert.ok(!secretRow.secret_encrypted.includes(receiver.secret.slice(6)), 'the secret is stored encrypted')

  const token = await apiTokenFor(ctx, 'ada@example.org', { firstName: 'Ada', lastName: 'Lovelace' })
  await tap(ctx, token, 'sign-in')
  await deliverWebhooks(task)
  await deliverWebhooks(task)
  assert.equal(receiver.received.length, 1, 'delivered once, person.created not subscribed')
  const [got] = receiver.received
  assert.equal(got!.verified, true, 'the signature verifies with the secret shown once')
  assert.equal(got!.payload.type, 'visit.signed_in')
  assert.equal(got!.payload.data.person?.firstName, 'Ada')
  assert.equal(typeof got!.payload.data.visitId, 'number')
  assert.equal(got!.payload.timestamp, new Date(ctx.clock.now()).toISOString())

  await admin.get(`/admin/webhooks/${id}`)
  const tested = await admin.post(`/admin/webhooks/${id}/test`)
  assert.equal(tested.statusCode, 303)
  await deliverWebhooks(task)
  assert.equal(receiver.received.at(-1)!.payload.type, 'webhook.test')
  assert.equal(receiver.received.at(-1)!.verified, true)
  const log = await admin.get(`/admin/webhooks/${id}`)
  assert.match(log.body, /<code>webhook\.test<\/code>/)
  assert.match(log.body, /<code>visit\.signed_in<\/code>/)
  assert.equal((log.body.match(/<td>delivered<\/td>/g) ?? []).length, 2)
  const audited = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .select('action')
    .where('action', 'like', 'webhook.%')
    .execute()
  assert.deepEqual(audited.map((a) => a.action).sort(), ['webhook.created', 'webhook.tested'])
})

test('a 500 or a timeout is retried after the backoff, with the same webhook-id', async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  await addEndpoint(admin, receiver, ['visit.signed_in', 'visit.signed_out'])
  const token = await apiTokenFor(ctx, 'ada@example.org')
  // The second answer never comes: a timeout however loaded the machine is.
  receiver.replies.push({ status: 500 }, { status: 200, hang: true })
  await tap(ctx, token, 'sign-in')
  await deliverWebhooks(task)
  assert.equal(receiver.received.length, 0)
  const after500 = await ctx.app.ctx.db.selectFrom('webhook_delivery').selectAll().executeTakeFirstOrThrow()
  assert.equal(after500.state, 'pending')
  assert.equal(after500.last_status, 500)
  assert.equal(after500.next_attempt_at, ctx.clock.now() + RETRY_DELAYS_MS[0]!)

  await deliverWebhooks(task)
  assert.equal(
    (await ctx.app.ctx.db.selectFrom('webhook_delivery').select('attempts').executeTakeFirstOrThrow())
      .attempts,
    1,
    'not retried before its time',
  )
  ctx.clock.advance(RETRY_DELAYS_MS[0]!)
  await deliverWebhooks(task)
  const afterTimeout = await ctx.app.ctx.db
    .selectFrom('webhook_delivery')
    .selectAll()
    .executeTakeFirstOrThrow()
  assert.equal(afterTimeout.attempts, 2)
  assert.match(afterTimeout.last_error ?? '', /no answer within 2000 ms/)
  ctx.clock.advance(RETRY_DELAYS_MS[1]!)
  await deliverWebhooks(task)
  assert.equal(receiver.received.length, 1)
  assert.equal(receiver.received[0]!.verified, true)
  assert.equal(receiver.received[0]!.id, `msg_${afterTimeout.event_id}`)
  const done = await ctx.app.ctx.db.selectFrom('webhook_delivery').selectAll().executeTakeFirstOrThrow()
  assert.equal(done.state, 'delivered')
  assert.equal(done.attempts, 3)
})

test("each person's events arrive in order: a failed one holds back that person's later events, not others'", async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  await addEndpoint(admin, receiver, ['visit.signed_in', 'visit.signed_out'])
  const ada = await apiTokenFor(ctx, 'ada@example.org', { firstName: 'Ada', lastName: 'L' })
  const bob = await apiTokenFor(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'B' })
  await tap(ctx, ada, 'sign-in')
  await tap(ctx, ada, 'sign-out')
  await tap(ctx, bob, 'sign-in')
  // Ada's sign-in is refused once, whenever it arrives (deliveries to different people may overlap).
  receiver.repliesFor.push({
    match: (p) => p.data.person?.firstName === 'Ada' && p.type === 'visit.signed_in',
    reply: { status: 503 },
  })
  await deliverWebhooks(task)
  assert.deepEqual(
    receiver.received.map((r) => `${r.payload.data.person?.firstName} ${r.payload.type}`),
    ['Bob visit.signed_in'],
    "Ada's sign-out waits for her sign-in",
  )
  ctx.clock.advance(RETRY_DELAYS_MS[0]!)
  await deliverWebhooks(task)
  assert.deepEqual(
    receiver.received.map((r) => `${r.payload.data.person?.firstName} ${r.payload.type}`),
    ['Bob visit.signed_in', 'Ada visit.signed_in', 'Ada visit.signed_out'],
  )
  assert.ok(receiver.received.every((r) => r.verified))
})

test('an endpoint failing for a day is disabled, the admins are told, and turning it on resumes', async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  const id = await addEndpoint(admin, receiver, ['visit.signed_in'])
  const token = await apiTokenFor(ctx, 'ada@example.org')
  await tap(ctx, token, 'sign-in')
  let waited = 0
  for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length; attempt++) {
    receiver.replies.push({ status: 500 })
    await deliverWebhooks(task)
    const delay = RETRY_DELAYS_MS[attempt] ?? 0
    ctx.clock.advance(delay)
    waited += delay
  }
  assert.ok(waited > 24 * 3600_000 && waited < 30 * 3600_000, 'about a day of retries')
  const delivery = await ctx.app.ctx.db.selectFrom('webhook_delivery').selectAll().executeTakeFirstOrThrow()
  assert.equal(delivery.state, 'failed')
  assert.equal(delivery.attempts, RETRY_DELAYS_MS.length + 1)
  const endpoint = await ctx.app.ctx.db.selectFrom('webhook_endpoint').selectAll().executeTakeFirstOrThrow()
  assert.equal(endpoint.enabled, 0)
  assert.match(endpoint.disabled_reason ?? '', /failed for about a day/)
  assert.ok(
    ctx.outbox.some(
      (line) => line.startsWith('message to admin@example.org ') && line.includes('turned it off'),
    ),
    `the admin is told: ${ctx.outbox.slice(-2).join('\n')}`,
  )
  assert.ok(
    await ctx.app.ctx.db
      .selectFrom('audit_event')
      .select('id')
      .where('action', '=', 'webhook.disabled')
      .executeTakeFirst(),
  )

  // Off: nothing is sent. Turned back on: the next event goes. (A day later: yesterday's visit is
  // closed automatically by the sign-in.)
  await tap(ctx, token, 'sign-in')
  await tap(ctx, token, 'sign-out')
  await deliverWebhooks(task)
  assert.equal(receiver.received.length, 0)
  await admin.get(`/admin/webhooks/${id}`)
  assert.match(admin.lastHtml, /failed for about a day/)
  await admin.post(`/admin/webhooks/${id}/enable`)
  await tap(ctx, token, 'sign-in')
  await deliverWebhooks(task)
  assert.equal(receiver.received.length, 1)
  assert.equal(receiver.received[0]!.payload.type, 'visit.signed_in')
})

test('private, loopback and link-local targets are refused, when saved and (DNS rebinding) when sent', async (t) => {
  const ctx = await buildTestApp(t, { env: { WEBHOOK_TIMEOUT_MS: '300' } })
  const receiver = await new FakeWebhookReceiver().start()
  t.after(() => receiver.stop())
  const { browser: admin, id: adminId } = await loginWithRole(ctx, 'admin@example.org', 'admin')
  for (const url of [
    receiver.url,
    'http://localhost:9/x',
    'http://169.254.169.254/latest/meta-data',
    'http://10.1.2.3/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'ftp://example.org/',
  ]) {
    await admin.get('/admin/webhooks')
    const r = await admin.post('/admin/webhooks', { url, events: 'visit.signed_in' })
    assert.equal(r.statusCode, 422, url)
    assert.match(r.body, /class="error" id="url-error"/, url)
    assert.match(r.body, new RegExp(`value="${url.replace(/[[\]/.?]/g, '\\$&')}"`), 'input kept')
  }
  const none = await admin.post('/admin/webhooks', { url: 'https://example.org/' })
  assert.equal(none.statusCode, 422)
  assert.match(none.body, /Choose at least one event/)
  assert.equal((await ctx.app.ctx.db.selectFrom('webhook_endpoint').selectAll().execute()).length, 0)

  for (const [address, isPublic] of [
    ['8.8.8.8', true],
    ['2606:4700::1111', true],
    ['127.0.0.1', false],
    ['192.168.1.1', false],
    ['172.16.0.1', false],
    ['100.64.0.1', false],
    ['fe80::1', false],
    ['fd00::1', false],
    ['::ffff:10.0.0.1', false],
    ['0.0.0.0', false],
  ] as const) {
    assert.equal(isPublicAddress(address), isPublic, address)
  }

  // A name that passed when saved but resolves to loopback when sent (rebinding) is refused then.
  const { secret } = await createWebhookEndpoint(
    ctx.app.ctx.db,
    { key: ctx.app.ctx.keys.webhooks, allowPrivate: true },
    { url: receiver.url.replace('127.0.0.1', 'localhost'), description: '', events: ['visit.signed_in'] },
    { personId: adminId, at: ctx.clock.now(), context: { ip: '-', userAgent: 'test' } },
  )
  receiver.secret = secret
  const token = await apiTokenFor(ctx, 'ada@example.org')
  await tap(ctx, token, 'sign-in')
  await deliverWebhooks({ ...ctx.app.ctx, log: ctx.app.log })
  assert.equal(receiver.received.length, 0, 'nothing reached the loopback receiver')
  const delivery = await ctx.app.ctx.db.selectFrom('webhook_delivery').selectAll().executeTakeFirstOrThrow()
  assert.match(delivery.last_error ?? '', /refused: .*non-public address/)
})

test('visitors: kiosk and reception sign-ins and sign-outs arrive as visitor.arrived/left, in order per visitor, with the visitor', async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  await addEndpoint(admin, receiver, ['visitor.arrived', 'visitor.left'])
  const zoe = await makePerson(ctx.app.ctx.db, {
    firstName: 'Zoë',
    lastName: 'Host',
    email: 'zoe@example.org',
  })
  const tablet = await pairedKiosk(ctx, admin, 'Main entrance')
  await tablet.refresh()
  const vera = await tablet.api('POST', '/kiosk/api/visitors', {
    name: 'Vera Visitor',
    company: 'Acme',
    hostId: zoe,
  })
  assert.equal(vera.statusCode, 201, vera.body)
  const veraId = (await ctx.app.ctx.db.selectFrom('visitor').select('id').executeTakeFirstOrThrow()).id
  // Vera's arrival fails once; her leaving must wait for it, while another visitor's goes ahead.
  receiver.replies.push({ status: 503 })
  await deliverWebhooks(task)
  assert.equal((await tablet.api('POST', `/kiosk/api/visitors/${veraId}/sign-out`, {})).statusCode, 200)
  const desk = await deskReceptionist(ctx)
  await desk.browser.get('/reception/visitors/new')
  const walt = await desk.browser.post('/reception/visitors', {
    name: 'Walt Walkin',
    company: 'Co',
    host: 'zoë',
  })
  assert.equal(walt.statusCode, 303, walt.body.slice(0, 300))
  await deliverWebhooks(task)
  const seen = () =>
    receiver.received.map((r) => {
      const data = r.payload.data as { visitor?: { name?: string }; by?: { firstName?: string } }
      return `${data.visitor?.name} ${r.payload.type}${data.by ? ` by ${data.by.firstName}` : ''}`
    })
  assert.deepEqual(seen(), ['Walt Walkin visitor.arrived by Rita'], 'Vera’s leaving waits for her arrival')
  ctx.clock.advance(RETRY_DELAYS_MS[0]!)
  await deliverWebhooks(task)
  assert.deepEqual(seen(), [
    'Walt Walkin visitor.arrived by Rita',
    'Vera Visitor visitor.arrived',
    'Vera Visitor visitor.left',
  ])
  assert.ok(receiver.received.every((r) => r.verified))
  const arrived = receiver.received[1]!.payload.data as { visitor: Record<string, unknown> }
  assert.deepEqual(arrived.visitor, { id: veraId, name: 'Vera Visitor', company: 'Acme', hostPersonId: zoe })
})

test('a burst of taps is fanned out in pages: every event marked once, one delivery each to the endpoint that wants it', async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  await addEndpoint(admin, receiver, ['visit.signed_in'])
  const { db } = ctx.app.ctx
  // More taps than one page of the fan-out (100), half of them of a type nobody subscribed to.
  const tokens: string[] = []
  for (let i = 0; i < 60; i++) {
    tokens.push(await apiTokenFor(ctx, `p${i}@example.org`, { firstName: `P${i}`, lastName: 'Burst' }))
  }
  for (const token of tokens) await tap(ctx, token, 'sign-in')
  for (const token of tokens) await tap(ctx, token, 'sign-out')
  const taps = await db
    .selectFrom('webhook_event')
    .select('id')
    .where('type', 'in', ['visit.signed_in', 'visit.signed_out'])
    .execute()
  assert.equal(taps.length, 120)

  await deliverWebhooks(task)
  const unmarked = await db
    .selectFrom('webhook_event')
    .select('id')
    .where('fanned_out_at', 'is', null)
    .execute()
  assert.deepEqual(unmarked, [], 'every event is marked fanned out, subscribed or not')
  const deliveries = await db
    .selectFrom('webhook_delivery')
    .innerJoin('webhook_event', 'webhook_event.id', 'webhook_delivery.event_id')
    .select(['webhook_event.type', 'webhook_delivery.event_id'])
    .execute()
  assert.equal(deliveries.length, 60, 'one delivery per sign-in, none for the sign-outs')
  assert.ok(deliveries.every((d) => d.type === 'visit.signed_in'))
  assert.equal(new Set(deliveries.map((d) => d.event_id)).size, 60)
  assert.equal(receiver.received.length, 60)

  await deliverWebhooks(task)
  assert.equal(receiver.received.length, 60, 'a second pass sends nothing again')
})

test('with no endpoint, events are marked fanned out and never sent later; an endpoint added then gets what happens from then on', async (t) => {
  const { ctx, receiver, admin, task } = await setup(t)
  const { db } = ctx.app.ctx
  const ann = await apiTokenFor(ctx, 'ann@example.org', { firstName: 'Ann', lastName: 'Early' })
  await tap(ctx, ann, 'sign-in')
  await tap(ctx, ann, 'sign-out')
  await deliverWebhooks(task)
  const unmarked = () =>
    db.selectFrom('webhook_event').select('id').where('fanned_out_at', 'is', null).execute()
  assert.deepEqual(await unmarked(), [], 'marked, with nobody to send them to')

  await addEndpoint(admin, receiver, ['visit.signed_in', 'visit.signed_out'])
  await tap(ctx, ann, 'sign-in')
  await deliverWebhooks(task)
  assert.deepEqual(await unmarked(), [])
  assert.deepEqual(
    receiver.received.map((r) => r.payload.type),
    ['visit.signed_in'],
    'only the sign-in made after the endpoint was added',
  )
})
