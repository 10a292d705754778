import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { test } from 'node:test'
import { launchChromium } from '../../testing/chromium.js'
import { startOpenIdProvider } from '../../testing/fake-oidc.js'
import { startLiveApp } from '../../testing/live-app.js'

/** A port nobody listens on right now, so the provider can know our redirect URI before we start. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('in Chromium: the organisation button, the provider’s login and consent, back home signed in', async (t) => {
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const op = await startOpenIdProvider(t, {
    clientId: 'register',
    clientSecret: 'register-client-secret',
    redirectUris: [`${base}/login/sso/acme/callback`],
    accounts: {
      'ada-1': { email: 'ada@example.org', email_verified: true, given_name: 'Ada', family_name: 'Lovelace' },
    },
  })
  const live = await startLiveApp(t, {
    PORT: String(port),
    PUBLIC_URL: base,
    SSO_1_TYPE: 'oidc',
    SSO_1_ID: 'acme',
    SSO_1_LABEL: 'Sign in with Acme',
    SSO_1_ISSUER: op.issuer,
    SSO_1_CLIENT_ID: 'register',
    SSO_1_CLIENT_SECRET: 'register-client-secret',
  })
  assert.equal(live.base, base)
  const browser = await launchChromium()
  t.after(() => browser.close())
  const page = await browser.newPage()

  await page.goto(`${base}/history`)
  assert.equal(new URL(page.url()).pathname, '/login')
  await page.getByRole('link', { name: 'Sign in with Acme' }).click()
  await page.waitForURL(`${op.url}/interaction/**`)
  await page.fill('input[name=login]', 'ada-1')
  await page.fill('input[name=password]', 'any')
  await page.click('button[type=submit]')
  // The provider's consent page, then back to the page first asked for.
  await page.waitForSelector('button[autofocus]')
  await page.click('button[autofocus]')
  await page.waitForURL(`${base}/history`)
  assert.match(await page.content(), /Welcome, Ada\./)
  const cookies = await page.context().cookies(base)
  assert.ok(cookies.some((c) => c.name === 'br_device' && c.httpOnly))
})
