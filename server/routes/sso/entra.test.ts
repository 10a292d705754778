import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import { buildTestApp, type TestApp, TestBrowser } from '../../testing/build-test-app.js'
import {
  OpenIdProviderBrowser,
  signingKeys,
  startFakeEntra,
  startOpenIdProvider,
  type TestAccount,
} from '../../testing/fake-oidc.js'

const REGISTER = 'http://register.test'

type SignedIn = { status: number; body: string; browser: TestBrowser }
type Setup = { test: TestApp; signIn: (tenant: string, login: string) => Promise<SignedIn> }
const ours = '11111111-1111-4111-8111-111111111111'
const partner = '22222222-2222-4222-8222-222222222222'
const stranger = '33333333-3333-4333-8333-333333333333'
const client = { clientId: 'register-app-id', clientSecret: 'entra-client-secret' }

/**
 * Multi-tenant Entra: discovery at /organizations/v2.0 (issuer `{tenantid}` template), our tenant
 * and a partner's allowed, a stranger's not. Each tenant is its own oidc-provider signing with
 * the same keys, as Microsoft's tenants do; `forger` is a tenant whose tokens claim our tenant id.
 */
async function setup(t: TestContext): Promise<Setup> {
  const jwks = signingKeys()
  const tenant = async (id: string, accounts: Record<string, TestAccount>, tid = id) =>
    startOpenIdProvider(t, {
      ...client,
      redirectUris: [`${REGISTER}/login/sso/microsoft/callback`],
      issuer: `https://login.microsoftonline.com/${id}/v2.0`,
      tenant: tid,
      jwks,
      accounts,
    })
  const person = (email: string): TestAccount => ({
    email,
    xms_edov: true,
    given_name: 'Sam',
    family_name: 'Tenant',
  })
  const tenants = new Map([
    [ours, await tenant(ours, { sam: person('sam@ours.example') })],
    [stranger, await tenant(stranger, { eve: person('eve@stranger.example') })],
    // Partner's issuer, but its tokens say they come from our tenant.
    [partner, await tenant(partner, { forger: person('forger@partner.example') }, ours)],
  ])
  const entra = await startFakeEntra(t, tenants, jwks)
  const test = await buildTestApp(t, {
    env: {
      SSO_1_TYPE: 'entra',
      SSO_1_TENANT: 'organizations',
      SSO_1_ALLOWED_TENANTS: `${ours},${partner}`,
      SSO_1_CLIENT_ID: client.clientId,
      SSO_1_CLIENT_SECRET: client.clientSecret,
    },
    sso: { fetch: entra.fetch },
  })
  const signIn = async (home: string, login: string) => {
    entra.home.tenant = home
    const browser = new TestBrowser(test.app)
    const start = await browser.get('/login/sso/microsoft')
    assert.equal(start.statusCode, 303)
    const authorization = String(start.headers.location)
    assert.ok(
      authorization.startsWith('https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?'),
    )
    const callback = await new OpenIdProviderBrowser(entra.localUrl).signIn(
      authorization,
      login,
      `${REGISTER}/`,
    )
    // Entra's authorization responses carry no iss parameter (oidc-provider adds RFC 9207's).
    callback.searchParams.delete('iss')
    const done = await browser.get(callback.pathname + callback.search)
    return { status: done.statusCode, body: done.body, browser }
  }
  return { test, signIn }
}

test('Entra multi-tenant: a person of an allowed tenant signs in with the button', async (t) => {
  const { test, signIn } = await setup(t)
  const page = await new TestBrowser(test.app).get('/login')
  assert.match(page.body, />Sign in with Microsoft</)
  const { status, browser } = await signIn(ours, 'sam')
  assert.equal(status, 303)
  assert.ok(browser.cookies.get('br_device'))
  const [identity] = await test.app.ctx.db.selectFrom('sso_identity').selectAll().execute()
  assert.equal(identity?.issuer, `https://login.microsoftonline.com/${ours}/v2.0`)
  // xms_edov: the email counts as verified, so it becomes the person's contact.
  const contacts = await test.app.ctx.db.selectFrom('contact').selectAll().execute()
  assert.deepEqual(
    contacts.map((c) => c.value),
    ['sam@ours.example'],
  )
})

test('Entra multi-tenant: a tenant not on the allow-list is refused with a page saying so', async (t) => {
  const { test, signIn } = await setup(t)
  const { status, body, browser } = await signIn(stranger, 'eve')
  assert.equal(status, 403)
  assert.match(body, /belongs to an organisation that cannot sign in here/)
  assert.equal(browser.cookies.get('br_device'), undefined)
  const refused = await test.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'sso.refused')
    .execute()
  assert.equal(JSON.parse(refused[0]!.detail).reason, 'tenant-not-allowed')
  assert.equal(JSON.parse(refused[0]!.detail).tenant, stranger)
})

test('Entra multi-tenant: a token whose issuer is not its own tenant’s is refused', async (t) => {
  const { test, signIn } = await setup(t)
  const { status, browser } = await signIn(partner, 'forger')
  assert.equal(status, 400)
  assert.equal(browser.cookies.get('br_device'), undefined)
  const failed = await test.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'sso.failed')
    .execute()
  assert.equal(JSON.parse(failed[0]!.detail).claim, 'iss')
  assert.equal((await test.app.ctx.db.selectFrom('person').selectAll().execute()).length, 0)
})
