import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { buildTestApp, loginAs, type TestApp, TestBrowser } from '../../testing/build-test-app.js'
import {
  OpenIdProviderBrowser,
  startOpenIdProvider,
  type TestAccount,
  type TestOpenIdProvider,
} from '../../testing/fake-oidc.js'
import { giveRole, personIdOf } from '../../testing/roles.js'

const REGISTER = 'http://register.test'
const client = { clientId: 'register', clientSecret: 'register-client-secret' }

/** The app with one generic OpenID provider ("acme") played by a real local oidc-provider. */
async function setup(
  t: TestContext,
  accounts: Record<string, TestAccount>,
  env: Record<string, string> = {},
): Promise<{ test: TestApp; op: TestOpenIdProvider }> {
  const op = await startOpenIdProvider(t, {
    ...client,
    redirectUris: [`${REGISTER}/login/sso/acme/callback`],
    accounts,
  })
  const test = await buildTestApp(t, {
    env: {
      SSO_1_TYPE: 'oidc',
      SSO_1_ID: 'acme',
      SSO_1_LABEL: 'Sign in with Acme',
      SSO_1_ISSUER: op.issuer,
      SSO_1_CLIENT_ID: client.clientId,
      SSO_1_CLIENT_SECRET: client.clientSecret,
      ...env,
    },
  })
  return { test, op }
}

/** Clicks the button, signs in at the provider as `login`, and lands on our callback. */
async function ssoLogin(
  test: TestApp,
  login: string,
  options: {
    browser?: TestBrowser
    tamperAuthorization?: (url: URL) => void
    tamperCallback?: (url: URL) => void
  } = {},
) {
  const browser = options.browser ?? new TestBrowser(test.app)
  const start = await browser.get('/login/sso/acme')
  assert.equal(start.statusCode, 303)
  const authorization = new URL(String(start.headers.location))
  options.tamperAuthorization?.(authorization)
  const callback = await new OpenIdProviderBrowser().signIn(authorization.href, login, `${REGISTER}/`)
  options.tamperCallback?.(callback)
  const done = await browser.get(callback.pathname + callback.search)
  return { browser, authorization, callback, done }
}

const ssoIdentities = (test: TestApp) => test.app.ctx.db.selectFrom('sso_identity').selectAll().execute()
const auditActions = async (test: TestApp, prefix: string) =>
  (await test.app.ctx.db.selectFrom('audit_event').selectAll().orderBy('id').execute()).filter((e) =>
    e.action.startsWith(prefix),
  )

test('the login page offers the configured button and the flow uses PKCE, state and nonce', async (t) => {
  const { test, op } = await setup(t, {})
  const browser = new TestBrowser(test.app)
  const page = await browser.get('/login')
  assert.match(page.body, /href="\/login\/sso\/acme">Sign in with Acme</)
  const start = await browser.get('/login/sso/acme')
  const url = new URL(String(start.headers.location))
  assert.equal(url.origin + url.pathname, `${op.url}/auth`)
  assert.equal(url.searchParams.get('redirect_uri'), `${REGISTER}/login/sso/acme/callback`)
  assert.equal(url.searchParams.get('code_challenge_method'), 'S256')
  assert.match(url.searchParams.get('code_challenge') ?? '', /^[\w-]{43}$/)
  assert.ok((url.searchParams.get('state') ?? '').length >= 20)
  assert.ok((url.searchParams.get('nonce') ?? '').length >= 20)
  assert.equal((await browser.get('/login/sso/nobody')).statusCode, 404)
})

test('a new person signs in through the provider and is remembered on this device', async (t) => {
  const { test } = await setup(t, {
    'ada-1': { email: 'Ada@Example.org', email_verified: true, given_name: 'Ada', family_name: 'Lovelace' },
  })
  const { browser, done } = await ssoLogin(test, 'ada-1')
  assert.equal(done.statusCode, 303)
  assert.equal(done.headers.location, '/')
  assert.ok(browser.cookies.get('br_device'), 'the device cookie is set')
  const home = await browser.follow(done)
  assert.equal(home.statusCode, 200)
  assert.match(home.body, /Welcome, Ada\./)

  const id = await personIdOf(test, 'ada@example.org')
  const person = await test.app.ctx.db
    .selectFrom('person')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirstOrThrow()
  assert.deepEqual([person.first_name, person.last_name], ['Ada', 'Lovelace'])
  const [identity] = await ssoIdentities(test)
  assert.equal(identity?.person_id, id)
  assert.equal(identity?.subject, 'ada-1')
  const device = await test.app.ctx.db
    .selectFrom('device')
    .selectAll()
    .where('person_id', '=', id)
    .executeTakeFirstOrThrow()
  assert.equal(device.signed_in_with, 'sso')
  const [login] = await auditActions(test, 'sso.login')
  assert.equal(JSON.parse(login!.detail).how, 'created')

  // The next time, the provider account is recognised (same person, no second one).
  const again = await ssoLogin(test, 'ada-1')
  assert.equal(again.done.statusCode, 303)
  assert.equal((await test.app.ctx.db.selectFrom('person').selectAll().execute()).length, 1)
  assert.equal(JSON.parse((await auditActions(test, 'sso.login'))[1]!.detail).how, 'identity')
})

test('a verified email signs in the person who already has it', async (t) => {
  const { test } = await setup(t, {
    'grace-7': { email: 'grace@example.org', email_verified: true, given_name: 'G', family_name: 'H' },
  })
  await loginAs(test, 'grace@example.org', { firstName: 'Grace', lastName: 'Hopper' })
  const existing = await personIdOf(test, 'grace@example.org')
  const { done, browser } = await ssoLogin(test, 'grace-7')
  assert.equal(done.statusCode, 303)
  const home = await browser.follow(done)
  assert.match(home.body, /Welcome back, Grace\./)
  assert.equal((await test.app.ctx.db.selectFrom('person').selectAll().execute()).length, 1)
  assert.equal((await ssoIdentities(test))[0]?.person_id, existing)
})

test('an unverified email never signs in the person who has that email', async (t) => {
  const { test } = await setup(t, {
    mallory: { email: 'grace@example.org', email_verified: false, given_name: 'Mal', family_name: 'Lory' },
  })
  await loginAs(test, 'grace@example.org', { firstName: 'Grace', lastName: 'Hopper' })
  const { done, browser } = await ssoLogin(test, 'mallory')
  assert.equal(done.statusCode, 403)
  assert.match(done.body, /did not confirm your email address/)
  assert.equal(browser.cookies.get('br_device'), undefined)
  assert.equal((await ssoIdentities(test)).length, 0)
  const [refused] = await auditActions(test, 'sso.refused')
  assert.equal(JSON.parse(refused!.detail).reason, 'email-not-verified')
})

test('an unverified email nobody has makes a new person without that email', async (t) => {
  const { test } = await setup(t, {
    newbie: { email: 'newbie@example.org', email_verified: false, name: 'Nora Newbie' },
  })
  const { done } = await ssoLogin(test, 'newbie')
  assert.equal(done.statusCode, 303)
  const people = await test.app.ctx.db.selectFrom('person').selectAll().execute()
  assert.deepEqual(
    people.map((p) => [p.first_name, p.last_name]),
    [['Nora', 'Newbie']],
  )
  assert.equal((await test.app.ctx.db.selectFrom('contact').selectAll().execute()).length, 0)
})

test('an email outside the allowed domains gets a page saying so', async (t) => {
  const { test } = await setup(
    t,
    {
      outsider: { email: 'bob@other.org', email_verified: true, given_name: 'Bob', family_name: 'Out' },
      insider: { email: 'ivy@example.org', email_verified: true, given_name: 'Ivy', family_name: 'In' },
    },
    { SSO_1_ALLOWED_DOMAINS: 'example.org, example.com' },
  )
  const refused = await ssoLogin(test, 'outsider')
  assert.equal(refused.done.statusCode, 403)
  assert.match(refused.done.body, /This account cannot sign in here/)
  assert.match(
    refused.done.body,
    /Accounts at other\.org cannot sign in here\. Only example\.org, example\.com/,
  )
  assert.equal(refused.browser.cookies.get('br_device'), undefined)
  assert.equal((await test.app.ctx.db.selectFrom('person').selectAll().execute()).length, 0)
  assert.equal(JSON.parse((await auditActions(test, 'sso.refused'))[0]!.detail).reason, 'domain-not-allowed')

  const allowed = await ssoLogin(test, 'insider')
  assert.equal(allowed.done.statusCode, 303)
})

test('a tampered state is refused and nobody is signed in', async (t) => {
  const { test } = await setup(t, { ada: { email: 'ada@example.org', email_verified: true, name: 'Ada L' } })
  const { done, browser } = await ssoLogin(test, 'ada', {
    tamperCallback: (url) => url.searchParams.set('state', `${url.searchParams.get('state')}x`),
  })
  assert.equal(done.statusCode, 400)
  assert.match(done.body, /could not be completed/)
  assert.equal(browser.cookies.get('br_device'), undefined)
  assert.equal((await test.app.ctx.db.selectFrom('person').selectAll().execute()).length, 0)
  assert.equal((await auditActions(test, 'sso.failed')).length, 1)
})

test('an ID token carrying another nonce is refused', async (t) => {
  const { test } = await setup(t, { ada: { email: 'ada@example.org', email_verified: true, name: 'Ada L' } })
  const { done, browser } = await ssoLogin(test, 'ada', {
    tamperAuthorization: (url) => url.searchParams.set('nonce', 'a-nonce-this-browser-never-made'),
  })
  assert.equal(done.statusCode, 400)
  assert.equal(browser.cookies.get('br_device'), undefined)
  assert.equal(JSON.parse((await auditActions(test, 'sso.failed'))[0]!.detail).claim, 'nonce')
})

test('an expired ID token is refused', async (t) => {
  const { test, op } = await setup(t, {
    ada: { email: 'ada@example.org', email_verified: true, name: 'Ada L' },
  })
  op.clockBehindSeconds = 2 * 3600
  const { done, browser } = await ssoLogin(test, 'ada')
  assert.equal(done.statusCode, 400)
  assert.equal(browser.cookies.get('br_device'), undefined)
  assert.equal(JSON.parse((await auditActions(test, 'sso.failed'))[0]!.detail).claim, 'exp')
})

test('a callback is used once: replaying it signs nobody in', async (t) => {
  const { test } = await setup(t, { ada: { email: 'ada@example.org', email_verified: true, name: 'Ada L' } })
  const { callback, browser } = await ssoLogin(test, 'ada')
  const replay = await browser.get(callback.pathname + callback.search)
  assert.equal(replay.statusCode, 400)
  assert.match(replay.body, /expired or was started in another browser/)
})

test('after signing in the person returns to the page they asked for', async (t) => {
  const { test } = await setup(t, { ada: { email: 'ada@example.org', email_verified: true, name: 'Ada L' } })
  const browser = new TestBrowser(test.app)
  const asked = await browser.get('/history')
  assert.equal(asked.headers.location, '/login')
  const { done } = await ssoLogin(test, 'ada', { browser })
  assert.equal(done.headers.location, '/history')
})

test('SSO_REQUIRED_FOR_ROLES: an admin cannot use a code, and a code device does not open admin pages', async (t) => {
  const { test } = await setup(
    t,
    { 'admin-1': { email: 'boss@example.org', email_verified: true, name: 'Bo Boss' } },
    { SSO_REQUIRED_FOR_ROLES: 'reception,admin' },
  )
  const codeBrowser = await loginAs(test, 'boss@example.org', { firstName: 'Bo', lastName: 'Boss' })
  await giveRole(test, 'boss@example.org', 'admin')
  // The device made by a code before the role was given no longer opens admin pages.
  const denied = await codeBrowser.get('/admin/people')
  assert.equal(denied.statusCode, 403)
  assert.match(denied.body, /sign in with their organisation account: use “Sign in with Acme”/)

  // A new code sign-in is refused outright, with the way in.
  const browser = new TestBrowser(test.app)
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'boss@example.org' })
  await browser.get('/login/verify')
  const refused = await browser.post('/login/verify', { code: test.lastCode('boss@example.org') })
  assert.equal(refused.statusCode, 403)
  assert.equal(browser.cookies.get('br_device'), undefined)

  const { done, browser: ssoBrowser } = await ssoLogin(test, 'admin-1')
  assert.equal(done.statusCode, 303)
  assert.equal((await ssoBrowser.get('/admin/people')).statusCode, 200)
})
