import assert from 'node:assert/strict'
import { test } from 'node:test'
import { signIn, signOut } from '../server/register/register.service.js'
import { buildTestApp, loginAs, type TestApp } from '../server/testing/build-test-app.js'
import { visitorRow } from '../server/testing/visitors.js'
import { autoClose } from './auto-close.task.js'

const context = { ip: '203.0.113.9', userAgent: 'test' }
const site = { timeZone: 'Europe/London' }

async function person(ctx: TestApp, email: string, firstName: string) {
  const browser = await loginAs(ctx, email, { firstName, lastName: 'Test' })
  const row = await ctx.app.ctx.db
    .selectFrom('contact')
    .select('person_id')
    .where('value', '=', email)
    .executeTakeFirstOrThrow()
  return { id: row.person_id, browser }
}

const visitsOf = (ctx: TestApp, personId: number) =>
  ctx.app.ctx.db.selectFrom('visit').selectAll().where('person_id', '=', personId).orderBy('id').execute()

test('auto-close on the day clocks go forward: closes open visits at 23:59 BST, an older one at the end of its own day', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const sat = await person(ctx, 'sat@example.org', 'Sam')
  const sun = await person(ctx, 'sun@example.org', 'Sunny')
  const done = await person(ctx, 'done@example.org', 'Dan')

  // Saturday 27 March 2027 (GMT): left open, and the job did not run that night.
  await signIn(ctx.app.ctx.db, { personId: sat.id, now: Date.parse('2027-03-27T09:00:00Z'), context }, site)
  // Sunday 28 March 2027 (BST from 01:00 UTC): 09:00 local is 08:00 UTC.
  await signIn(ctx.app.ctx.db, { personId: sun.id, now: Date.parse('2027-03-28T08:00:00Z'), context }, site)
  await signIn(ctx.app.ctx.db, { personId: done.id, now: Date.parse('2027-03-28T08:30:00Z'), context }, site)
  await signOut(ctx.app.ctx.db, { personId: done.id, now: Date.parse('2027-03-28T16:00:00Z'), context }, site)

  const announced: (number | null)[] = []
  ctx.app.ctx.events.on('change', (change) => change.action === 'closed' && announced.push(change.personId))
  ctx.clock.set('2027-03-28T22:59:00Z') // 23:59 BST
  assert.deepEqual(await autoClose(run), { closed: 2 })
  assert.deepEqual(announced.sort(), [sat.id, sun.id].sort(), 'live boards hear about it')

  const [satVisit] = await visitsOf(ctx, sat.id)
  assert.equal(satVisit!.closed_by, 'auto')
  assert.equal(
    new Date(satVisit!.signed_out_at!).toISOString(),
    '2027-03-27T23:59:59.999Z',
    'end of Saturday, GMT',
  )
  const [sunVisit] = await visitsOf(ctx, sun.id)
  assert.equal(sunVisit!.closed_by, 'auto')
  assert.equal(new Date(sunVisit!.signed_out_at!).toISOString(), '2027-03-28T22:59:00.000Z', '23:59 BST')
  const [doneVisit] = await visitsOf(ctx, done.id)
  assert.equal(doneVisit!.closed_by, 'person', 'a closed visit is never touched')
  assert.equal(doneVisit!.signed_out_at, Date.parse('2027-03-28T16:00:00Z'))

  assert.deepEqual(await autoClose(run), { closed: 0 }, 'running again changes nothing')
  const audits = await ctx.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'visit.auto-closed')
    .execute()
  assert.equal(audits.length, 2)
  assert.equal(audits[0]!.user_agent, 'task:auto-close')

  const history = await sun.browser.get('/history')
  assert.equal(history.statusCode, 200)
  assert.match(
    history.body,
    /Sun 28 Mar<\/td>\s*<td>09:00<\/td>\s*<td>23:59 <strong class="tag">not confirmed<\/strong>/,
  )
  const confirmed = await done.browser.get('/history')
  assert.match(confirmed.body, /<td>09:30<\/td>\s*<td>17:00<\/td>/)
  assert.doesNotMatch(confirmed.body, /<strong class="tag">not confirmed/)
})

test('auto-close on the day clocks go back: 23:59 GMT, and the Saturday visit closes at 23:59:59 BST', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const sat = await person(ctx, 'sat@example.org', 'Sam')
  const sun = await person(ctx, 'sun@example.org', 'Sunny')
  await signIn(ctx.app.ctx.db, { personId: sat.id, now: Date.parse('2027-10-30T08:00:00Z'), context }, site)
  await signIn(ctx.app.ctx.db, { personId: sun.id, now: Date.parse('2027-10-31T09:00:00Z'), context }, site)

  ctx.clock.set('2027-10-31T23:59:00Z') // 23:59 GMT, the 25-hour day
  assert.deepEqual(await autoClose(run), { closed: 2 })
  const [satVisit] = await visitsOf(ctx, sat.id)
  assert.equal(new Date(satVisit!.signed_out_at!).toISOString(), '2027-10-30T22:59:59.999Z')
  const [sunVisit] = await visitsOf(ctx, sun.id)
  assert.equal(new Date(sunVisit!.signed_out_at!).toISOString(), '2027-10-31T23:59:00.000Z')
  assert.equal(sunVisit!.closed_by, 'auto')
})

test('auto-close closes visitors still signed in too (as staff: at the end of their own day), audited and announced', async (t) => {
  const ctx = await buildTestApp(t)
  const run = { ...ctx.app.ctx, log: ctx.app.log }
  const { db } = ctx.app.ctx
  const visitor = (name: string, signedIn: string, signedOut?: string) =>
    visitorRow(name, Date.parse(signedIn), signedOut ? Date.parse(signedOut) : null, { closedBy: 'visitor' })
  const rows = await db
    .insertInto('visitor')
    .values([
      visitor('Sat Forgot', '2027-03-27T10:00:00Z'),
      visitor('Sun Forgot', '2027-03-28T09:00:00Z'),
      visitor('Left Fine', '2027-03-28T09:00:00Z', '2027-03-28T11:00:00Z'),
    ])
    .returning(['id', 'name'])
    .execute()
  const id = (name: string) => rows.find((r) => r.name === name)!.id
  const announced: (number | undefined)[] = []
  ctx.app.ctx.events.on('change', (c) => c.action === 'closed' && announced.push(c.visitorId))
  ctx.clock.set('2027-03-28T22:59:00Z') // 23:59 BST
  assert.deepEqual(await autoClose(run), { closed: 2 })
  const after = await db.selectFrom('visitor').selectAll().orderBy('id').execute()
  const of = (name: string) => after.find((v) => v.name === name)!
  assert.equal(of('Sat Forgot').closed_by, 'auto')
  assert.equal(new Date(Number(of('Sat Forgot').signed_out_at)).toISOString(), '2027-03-27T23:59:59.999Z')
  assert.equal(of('Sun Forgot').closed_by, 'auto')
  assert.equal(Number(of('Sun Forgot').signed_out_at), Date.parse('2027-03-28T22:59:00Z'))
  assert.equal(of('Left Fine').closed_by, 'visitor', 'never touched')
  assert.deepEqual(announced.sort(), [id('Sat Forgot'), id('Sun Forgot')].sort())
  const audits = await db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'visitor.auto-closed')
    .execute()
  assert.equal(audits.length, 2)
  assert.equal(audits[0]!.user_agent, 'task:auto-close')
  assert.deepEqual(await autoClose(run), { closed: 0 }, 'running again changes nothing')
})
