import type { Role } from '../db/database.js'
import { parseContact } from '../identity/contact.js'
import { loginAs, type TestApp, TestBrowser } from './build-test-app.js'
import { eventually } from './eventually.js'

let nextAddress = 1

/** Gives the person behind a contact a role, as an administrator would. */
export async function grantRole(test: TestApp, contact: string, role: Role): Promise<number> {
  const { db } = test.app.ctx
  const parsed = parseContact(contact, test.config.DEFAULT_PHONE_REGION)
  const value = parsed.ok ? parsed.contact.value : contact
  const row = await db
    .selectFrom('contact')
    .select('person_id')
    .where('value', '=', value)
    .executeTakeFirstOrThrow()
  await db.updateTable('person').set({ role }).where('id', '=', row.person_id).execute()
  return row.person_id
}

/** Logs a person in with a role (staff by default) and returns their browser and id. */
export async function personWithRole(
  test: TestApp,
  contact: string,
  name: { firstName: string; lastName: string },
  role: Role = 'staff',
): Promise<{ browser: TestBrowser; id: number }> {
  // Each person on their own phone and network, so per-address code limits stay out of the way.
  const n = nextAddress++
  const browser = await loginAs(
    test,
    contact,
    name,
    new TestBrowser(test.app, `198.18.${(n >> 8) & 255}.${n & 255}`),
  )
  const id = await grantRole(test, contact, role)
  await browser.get('/')
  return { browser, id }
}

/** Taps "Sign in" on the person's home page. */
export async function tapSignIn(browser: TestBrowser): Promise<void> {
  await browser.get('/')
  const r = await browser.post('/sign-in', {
    day: /name="day" value="([^"]+)"/.exec(browser.lastHtml)?.[1] ?? '',
  })
  if (r.statusCode !== 303) throw new Error(`sign-in failed: ${r.statusCode}`)
  await browser.follow(r)
}

/** Taps "Sign out" on the person's home page. */
export async function tapSignOut(browser: TestBrowser): Promise<void> {
  await browser.get('/')
  const r = await browser.post('/sign-out', {
    day: /name="day" value="([^"]+)"/.exec(browser.lastHtml)?.[1] ?? '',
  })
  if (r.statusCode !== 303) throw new Error(`sign-out failed: ${r.statusCode}`)
  await browser.follow(r)
}

/** A tap the phone saved offline, sent to `/taps` as web/queue.js sends it. */
export async function sendSavedTap(
  browser: TestBrowser,
  tap: { action: 'sign-in' | 'sign-out'; at: number; sentAt: number; key: string },
) {
  await browser.get('/')
  return browser.request({
    method: 'POST',
    url: '/taps',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    payload: JSON.stringify({ ...tap, _csrf: browser.csrfToken() }),
  })
}

export { eventually } from './eventually.js'

/** Waits until every broadcast delivery has been tried: none is waiting or being sent. */
export async function deliveriesFinished(ctx: TestApp): Promise<void> {
  await eventually(async () => {
    const waiting = await ctx.app.ctx.db
      .selectFrom('broadcast_recipient')
      .select('id')
      .where('status', 'in', ['pending', 'sending'])
      .execute()
    return waiting.length === 0
  }, 'deliveries to finish')
}

/** Rita Desk, the receptionist most reception tests sign in as. */
export function deskReceptionist(ctx: TestApp) {
  return personWithRole(ctx, 'desk@example.org', { firstName: 'Rita', lastName: 'Desk' }, 'reception')
}

/** Anna and Ben, two fire marshals (reception role) working the same roll call. */
export async function twoMarshals(ctx: TestApp) {
  const marshal = (first: string) =>
    personWithRole(
      ctx,
      `${first.toLowerCase()}@example.org`,
      { firstName: first, lastName: 'Marshal' },
      'reception',
    )
  return { anna: await marshal('Anna'), ben: await marshal('Ben') }
}
