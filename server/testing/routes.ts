import type { FastifyInstance } from 'fastify'
import { loginAs, type TestApp } from './build-test-app.js'
import { createKioskCode, KioskTablet } from './kiosk.js'
import { giveRole } from './roles.js'

/** One method and URL pattern of the app, as registered. */
export interface Route {
  method: string
  url: string
}

/** Every method of every route the app registered (from the route-list plugin), HEAD and OPTIONS left out. */
export function appRoutes(app: FastifyInstance): Route[] {
  return app.routeList
    .flatMap((r) =>
      (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url })),
    )
    .filter((r) => r.method !== 'HEAD' && r.method !== 'OPTIONS')
}

/**
 * The changing routes no cookie can drive, each with what guards it instead (tested elsewhere).
 * Every other POST, PUT, PATCH and DELETE route is cookie-authenticated and must check CSRF.
 */
export const notCookieAuthenticated: [RegExp, string][] = [
  [/^\/api\//, 'bearer tokens only: api.test.ts (cookies get 401, bodies must be JSON)'],
  [/^\/scim\//, 'the directory bearer token only: scim.test.ts'],
  [/^\/webhooks\//, "the provider's signature: twilio-status.test.ts"],
  [
    /^\/taps\/token$/,
    "changes nothing: hands this site's pages a fresh CSRF token for a queued tap (SameSite=Lax keeps other sites' posts from sending the device cookie, and no CORS lets them read the answer): pwa.test.ts",
  ],
  [/^\/push\/action$/, 'the signed token in the notification is the credential, not a cookie: pwa.test.ts'],
  [
    /^\/[rbvi]\/:token$/,
    'reminder, broadcast, visitor and invitation links: the link is the credential, no cookie is read',
  ],
]

/** The POST, PUT, PATCH and DELETE routes a browser's cookies authenticate. */
export function cookieChangingRoutes(app: FastifyInstance): Route[] {
  return appRoutes(app).filter(
    (r) => r.method !== 'GET' && !notCookieAuthenticated.some(([pattern]) => pattern.test(r.url)),
  )
}

/** Field names the app's forms and API read, for property tests to fill with random values. */
export const formFieldNames = [
  'contact',
  'code',
  'firstName',
  'lastName',
  'day',
  'time',
  'role',
  'name',
  'kind',
  'confirm',
  'person',
  'status',
  'text',
  'pin',
  'link',
  'url',
  'events',
  'endpoint',
  'other',
  'action',
  'at',
  'key',
  'token',
  'keys',
  'visitorName',
  'company',
  'badge',
  'x',
]

let nextHolder = 1

/**
 * A browser holding every cookie there is: an admin's device and session, and a paired kiosk's,
 * so that any cookie-authenticated route lets it through (up to its CSRF check and validation).
 */
export async function browserWithEveryCookie(test: TestApp): Promise<KioskTablet> {
  const n = nextHolder++
  const contact = `holder-${n}@example.org`
  const browser = new KioskTablet(test.app, `203.0.113.${20 + (n % 200)}`)
  await loginAs(test, contact, { firstName: 'Hold', lastName: 'Er' }, browser)
  await giveRole(test, contact, 'admin')
  const paired = await browser.pair(await createKioskCode(browser, `Kiosk ${n}`))
  if (paired.statusCode !== 303) throw new Error(`pairing failed: ${paired.statusCode}`)
  await browser.get('/profile')
  return browser
}
