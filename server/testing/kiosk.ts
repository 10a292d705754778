import type { LightMyRequestResponse } from 'fastify'
import { type TestApp, TestBrowser } from './build-test-app.js'
import { personWithRole } from './reception.js'

let nextKiosk = 1

/** An admin's browser, for creating kiosks (one per test app). */
export async function kioskAdmin(test: TestApp): Promise<TestBrowser> {
  const { browser } = await personWithRole(
    test,
    `kiosk-admin-${nextKiosk++}@example.org`,
    { firstName: 'Ada', lastName: 'Admin' },
    'admin',
  )
  return browser
}

/** Adds a kiosk from the admin page and returns the pairing code shown once. */
export async function createKioskCode(admin: TestBrowser, name: string): Promise<string> {
  await admin.get('/admin/kiosks')
  const created = await admin.post('/admin/kiosks', { name })
  const code = /id="pairing-code">([A-Z0-9-]+)</.exec(created.body)?.[1]
  if (created.statusCode !== 200 || !code) throw new Error(`no pairing code: ${created.statusCode}`)
  return code
}

/** A tablet paired as a kiosk: a browser holding the kiosk cookie and the kiosk page's CSRF token. */
export class KioskTablet extends TestBrowser {
  csrf = ''

  /** Types the pairing code on /kiosk; returns the response to the pairing form. */
  async pair(code: string): Promise<LightMyRequestResponse> {
    await this.get('/kiosk')
    const response = await this.post('/kiosk/pair', { code })
    if (response.statusCode === 303) await this.refresh()
    return response
  }

  /** Reloads the kiosk page and keeps its CSRF token, as the kiosk script does. */
  async refresh(): Promise<LightMyRequestResponse> {
    const page = await this.get('/kiosk')
    this.csrf = /data-csrf="([^"]+)"/.exec(page.body)?.[1] ?? ''
    return page
  }

  /** A JSON request to a kiosk action, as the kiosk script sends it. */
  async api(
    method: 'GET' | 'POST',
    url: string,
    body?: Record<string, unknown>,
  ): Promise<LightMyRequestResponse> {
    return this.request({
      method,
      url,
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { payload: JSON.stringify({ _csrf: this.csrf, ...body }) } : {}),
    })
  }
}

/** Creates a kiosk as an admin and pairs a new tablet with it. */
export async function pairedKiosk(
  test: TestApp,
  admin: TestBrowser,
  name = 'Main entrance',
): Promise<KioskTablet> {
  const tablet = new KioskTablet(test.app, `192.0.2.${nextKiosk++ % 250}`)
  const response = await tablet.pair(await createKioskCode(admin, name))
  if (response.statusCode !== 303) throw new Error(`pairing failed: ${response.statusCode} ${response.body}`)
  return tablet
}
