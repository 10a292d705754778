import { deliverInvitationsTask } from '../../tasks/deliver-invitations.task.js'
import { sendReminders } from '../../tasks/send-reminders.task.js'
import { importInvitations, invitationDepsOf } from '../invitations/invitation.service.js'
import type { TestApp, TestBrowser } from './build-test-app.js'
import { makePerson, makeVisit } from './factories.js'
import { pairedKiosk } from './kiosk.js'
import { eventually, personWithRole, tapSignIn, tapSignOut } from './reception.js'

/** Who a page is seen as. */
export type Viewer = 'anon' | 'staff-in' | 'staff-out' | 'reception' | 'admin' | 'kiosk'

/** A register with something on every page: people in and gone, a roll call, a broadcast, links. */
export interface Showcase {
  browsers: Record<Exclude<Viewer, 'anon' | 'kiosk'>, TestBrowser>
  /** The paired kiosk's token (its `br_kiosk` cookie, sent to /kiosk only). */
  kioskToken: string
  ids: { staffIn: number; staffOut: number; admin: number }
  rollCall: string
  broadcast: string
  /** A broadcast's reply link path (/b/…), as a person receives it. */
  replyLink: string
  /** The first link of an end-of-day reminder (/r/…, "I've left"). */
  reminderLink: string
  /** A new colleague's invitation link (/invite/…), as the admin's bulk import sends it. */
  staffInvitation: string
  /** A pre-registered visitor's check-in link (/i/…) for today, as their host's invitation sends it. */
  visitorInvitation: string
}

/**
 * Fills a fresh test app with what a busy morning looks like, through the real pages where it
 * matters (sign-ins, a drill, a broadcast) and straight in the database for the crowd.
 */
export async function seedShowcase(ctx: TestApp): Promise<Showcase> {
  const { db } = ctx.app.ctx
  const staffIn = await personWithRole(ctx, 'alice.smith@example.org', {
    firstName: 'Alice',
    lastName: 'Smith',
  })
  const staffOut = await personWithRole(ctx, 'bob.jones@example.org', { firstName: 'Bob', lastName: 'Jones' })
  const reception = await personWithRole(
    ctx,
    'rita.desk@example.org',
    { firstName: 'Rita', lastName: 'Desk' },
    'reception',
  )
  // A long one-word name, as some people have: it must wrap, not push the page sideways.
  const admin = await personWithRole(
    ctx,
    'ada@example.org',
    { firstName: 'Adaeze', lastName: 'Wolfeschlegelsteinhausenbergerdorffvoralternwaren' },
    'admin',
  )
  const crowd = [
    ['Priya', 'Natarajan'],
    ['Seán', 'O’Connor'],
    ['Zoë', 'Müller-Lüdenscheidt'],
    ['Tom', 'Baker'],
    ['Mei', 'Chen'],
  ] as const
  for (const [i, [firstName, lastName]] of crowd.entries()) {
    const id = await makePerson(db, { firstName, lastName, email: `crowd${i}@example.org` })
    const signedIn = `2026-11-23T0${7 + (i % 2)}:${10 + i * 7}:00Z`
    // Two of them left already: the "Left today" list.
    await makeVisit(db, id, i < 2 ? { in: signedIn, out: '2026-11-23T08:55:00Z' } : { in: signedIn })
  }
  await tapSignIn(staffIn.browser)
  await tapSignIn(staffOut.browser)
  await tapSignOut(staffOut.browser)

  await reception.browser.get('/reception/broadcasts/new')
  const sent = await reception.browser.post('/reception/broadcasts', {
    template: 'drill',
    audience: 'inside',
    message: 'Fire drill now: please leave by the nearest exit and go to the car park.',
    askSafety: 'yes',
  })
  const broadcast = String(sent.headers.location)
  await eventually(
    async () => ctx.outbox.some((l) => l.startsWith('message to alice.smith@example.org (broadcast)')),
    'the broadcast reaching Alice',
  )
  const line = ctx.outbox.find((l) => l.startsWith('message to alice.smith@example.org (broadcast)'))!
  const replyLink = /(\/b\/[\w-]+)/.exec(line)?.[1]
  if (!replyLink) throw new Error(`no reply link in ${line}`)

  await reception.browser.get('/reception')
  const started = await reception.browser.post('/reception/roll-calls', { kind: 'drill' })
  const rollCall = String(started.headers.location)
  await reception.browser.get(rollCall)
  await reception.browser.post(`${rollCall}/marks`, { person: String(staffIn.id), status: 'safe' })

  // An end-of-day reminder, for its answer page; then back to the morning.
  const morning = ctx.clock.now()
  ctx.clock.set('2026-11-23T17:30:00Z')
  await sendReminders({ ...ctx.app.ctx, log: ctx.app.log })
  ctx.clock.time = morning
  const reminder = ctx.outbox.find((l) => l.startsWith('message to alice.smith@example.org (reminder)'))
  const reminderLink = /(\/r\/[\w-]+)/.exec(reminder ?? '')?.[1]
  if (!reminderLink) throw new Error(`no reminder link in ${reminder}`)

  // Alice expects a visitor today: their check-in link, and her own "Visitors" list.
  await staffIn.browser.get('/visitors')
  const invited = await staffIn.browser.post('/visitors', {
    name: 'Vera Visitor',
    company: 'Acme Ltd',
    day: '2026-11-23',
    time: '10:30',
    contact: 'vera@example.com',
  })
  if (invited.statusCode !== 303) throw new Error(`pre-registering a visitor answered ${invited.statusCode}`)
  const visitorInvitation = linkTo(ctx, 'vera@example.com', /\/i\/[\w-]{43}/)

  // A new colleague invited by the admin's import: their welcome page.
  const deps = invitationDepsOf(ctx.app.ctx)
  const context = { ip: '127.0.0.1', userAgent: 'showcase' }
  await importInvitations(
    deps,
    { personId: admin.id, at: ctx.clock.now(), context },
    { csv: 'Nia Newstart,nia.newstart@example.org', sendBy: 'email' },
  )
  await deliverInvitationsTask({ ...ctx.app.ctx, log: ctx.app.log })
  const staffInvitation = linkTo(ctx, 'nia.newstart@example.org', /\/invite\/[\w-]{43}/)

  // A tablet paired at the main entrance: the kiosk's own screens.
  const tablet = await pairedKiosk(ctx, admin.browser, 'Main entrance')
  const kioskToken = tablet.cookies.get('br_kiosk')
  if (!kioskToken) throw new Error('the paired kiosk has no br_kiosk cookie')

  return {
    kioskToken,
    reminderLink,
    staffInvitation,
    visitorInvitation,
    browsers: {
      'staff-in': staffIn.browser,
      'staff-out': staffOut.browser,
      reception: reception.browser,
      admin: admin.browser,
    },
    ids: { staffIn: staffIn.id, staffOut: staffOut.id, admin: admin.id },
    rollCall,
    broadcast,
    replyLink,
  }
}

/** The path of the link in the last message to `contact`. */
function linkTo(ctx: TestApp, contact: string, pattern: RegExp): string {
  const line = ctx.outbox.findLast((l) => l.startsWith(`message to ${contact} `))
  const link = pattern.exec(line ?? '')?.[0]
  if (!link) throw new Error(`no link to ${contact} in: ${line}`)
  return link
}

/** The cookie that says who a browser is (the device token), for a real browser to carry. */
export function deviceCookie(browser: TestBrowser): string {
  const value = browser.cookies.get('br_device')
  if (!value) throw new Error('that browser is not signed in')
  return value
}
