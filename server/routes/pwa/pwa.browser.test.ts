import assert from 'node:assert/strict'
import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { projectRoot } from '../../paths.js'
import { sendPushToPerson, vapidFromConfig } from '../../push/push.service.js'
import { listPushSubscriptions } from '../../push/push-subscription.repository.js'
import { buildServiceWorker } from '../../pwa/build-service-worker.js'
import { hasChromium, launchChromiumProfile } from '../../testing/chromium.js'
import { startFakePushService, verifyVapid } from '../../testing/fake-push-service.js'
import { startLiveApp } from '../../testing/live-app.js'

const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const screenshots = join(projectRoot, 'docs', 'screenshots')

/** Saves a screenshot for docs/pwa.md, only when asked (SCREENSHOTS=1), so test runs leave git clean. */
async function snap(page: Page, name: string, fullPage = false): Promise<void> {
  if (!process.env.SCREENSHOTS) return
  await mkdir(screenshots, { recursive: true })
  await page.screenshot({ path: join(screenshots, name), fullPage })
}

async function expectNoAxeViolations(page: Page, name: string): Promise<void> {
  // Evaluated through the DevTools protocol, so the page's strict CSP does not need loosening.
  await page.evaluate(axeSource)
  const violations = await page.evaluate(async () => {
    const result = await (
      globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; nodes: unknown[] }[] }> } }
    ).axe.run()
    return result.violations.map((v) => `${v.id} (${v.nodes.length})`)
  })
  assert.deepEqual(violations, [], `axe violations on ${name}`)
}

test('the installable offline app, in a real browser', {
  skip: !hasChromium() && 'no /usr/bin/chromium',
}, async (t) => {
  await buildServiceWorker()
  const live = await startLiveApp(t)
  const { db, config } = live.app.ctx
  // A persistent profile: Chromium does not offer to install apps from an incognito context.
  const context = await launchChromiumProfile({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 })
  t.after(() => context.close())
  const page = context.pages()[0] ?? (await context.newPage())
  const cspErrors: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text())
  })
  const url = (path: string) => `${live.base}${path}`

  await t.test('login and verify pages are accessible and lead home', async () => {
    await page.goto(url('/login'))
    await expectNoAxeViolations(page, 'login')
    await page.getByLabel(/Email address/).fill('alice@example.org')
    await page.getByRole('button', { name: 'Send me a code' }).click()
    await page.waitForURL(url('/login/verify'))
    await expectNoAxeViolations(page, 'verify')
    await page.getByLabel('6-digit code').fill(live.lastCode('alice@example.org'))
    await page.getByRole('button', { name: 'Continue' }).click()
    await page.getByLabel('First name').fill('Alice')
    await page.getByLabel('Last name').fill('Smith')
    await page.getByRole('button', { name: 'Finish' }).click()
    await page.waitForURL(url('/'))
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
  })

  await t.test('install criteria: valid manifest, active service worker controlling the page', async () => {
    const state = (await page.evaluate(`navigator.serviceWorker.ready.then((reg) => ({
      state: reg.active && reg.active.state,
      scope: reg.scope,
    }))`)) as { state: string; scope: string }
    assert.equal(state.state, 'activated')
    assert.equal(state.scope, url('/'))
    await page.reload()
    assert.equal(await page.evaluate('Boolean(navigator.serviceWorker.controller)'), true)
    const cdp = await context.newCDPSession(page)
    const manifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string }
    assert.equal(manifest.url, url('/manifest.webmanifest'))
    assert.deepEqual(manifest.errors, [])
    const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as {
      installabilityErrors: { errorId: string }[]
    }
    assert.deepEqual(
      installabilityErrors.map((e) => e.errorId),
      [],
    )
    // Chromium offers installation (beforeinstallprompt) and the page shows its install button.
    await page.locator('#install-button').waitFor()
    await expectNoAxeViolations(page, 'home (signed out)')
    await snap(page, 'home-signed-out.png')
  })

  await t.test('repeat load: the shell comes from the service worker, not the network', async () => {
    live.hits.length = 0
    await page.reload()
    await page.getByRole('button', { name: 'Sign in' }).waitFor()
    assert.ok(live.hits.includes('/'), 'the home page itself is network-first')
    assert.deepEqual(
      live.hits.filter((h) => h.startsWith('/static/')),
      [],
    )
  })

  await t.test(
    'a tap made offline is saved, shown as "will sync", and applied once with its time',
    async () => {
      await context.setOffline(true)
      const before = Date.now()
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.locator('#sync-note', { hasText: 'will sync' }).waitFor()
      const after = Date.now()
      assert.equal(await page.locator('body.state-in').count(), 1, 'the page shows the person as signed in')
      await snap(page, 'home-offline-will-sync.png')
      // Reloading while offline still shows the last known state and the pending tap.
      await page.reload()
      await page.locator('#sync-note', { hasText: 'will sync' }).waitFor()
      await new Promise((resolve) => setTimeout(resolve, 1500))
      assert.equal(
        (await db.selectFrom('visit').selectAll().execute()).length,
        0,
        'nothing reached the server',
      )

      const online = Date.now()
      await context.setOffline(false)
      // Chromium fires `online` itself; dispatching it too covers browsers that are slow to. The
      // page may already be navigating to its refreshed self, which ends this evaluation.
      await page.evaluate(`window.dispatchEvent(new Event('online'))`).catch(() => {})
      await page.getByRole('button', { name: 'Sign out' }).waitFor()
      await page.locator('.flash', { hasText: 'You have signed in' }).waitFor()
      // Give any second replay (Background Sync and the page racing) time to arrive.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      const visits = await db.selectFrom('visit').selectAll().execute()
      assert.equal(visits.length, 1, 'exactly one visit')
      const signedInAt = visits[0]!.signed_in_at
      assert.ok(signedInAt >= before && signedInAt <= after, 'the visit has the time of the tap')
      assert.ok(signedInAt < online - 1000, 'not the time it was synced')
      assert.equal(await page.locator('#sync-note').isHidden(), true)
      await expectNoAxeViolations(page, 'home (signed in)')
      await snap(page, 'home-signed-in.png')
    },
  )

  await t.test('offline with no cached page: the offline page shows the last known state', async () => {
    await page.goto(url('/'))
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    await page.evaluate(`caches.delete('pages')`)
    await context.setOffline(true)
    await page.reload()
    await page.locator('#sync-note', { hasText: 'last known state' }).waitFor()
    assert.equal(await page.locator('body.state-in').count(), 1)
    assert.equal(await page.locator('h1').textContent(), '● You are signed in')
    assert.equal(await page.locator('.brand').textContent(), config.SITE_NAME)
    await snap(page, 'offline-last-known-state.png')
    await context.setOffline(false)
  })

  await t.test(
    'push: subscription stored, a push delivered through the push service, 410 removes it',
    async () => {
      const fake = await startFakePushService()
      t.after(() => fake.close())
      await context.grantPermissions(['notifications'], { origin: live.base })
      await page.goto(url('/profile'))
      await page.getByRole('button', { name: 'Turn on notifications' }).waitFor()
      await expectNoAxeViolations(page, 'profile')
      await snap(page, 'profile.png', true)
      // Headless Chromium has no push service of its own, so the page posts a subscription to a
      // local one, exactly as the profile page posts what pushManager.subscribe() returns.
      const sub = fake.subscribe()
      const status = await page.evaluate(`fetch('/push/subscriptions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ ...${JSON.stringify(sub.json)}, _csrf: document.querySelector('#push').dataset.csrf }),
    }).then((response) => response.status)`)
      assert.equal(status, 201)
      const person = await db.selectFrom('person').select('id').executeTakeFirstOrThrow()
      const stored = await listPushSubscriptions(db, person.id)
      assert.deepEqual(
        stored.map((s) => s.endpoint),
        [sub.json.endpoint],
      )

      const options = { vapid: vapidFromConfig(config), now: Date.now() }
      const payload = { title: 'Test reminder', body: 'Hello from the test', tag: 'test' }
      assert.equal(await sendPushToPerson(db, person.id, payload, options), true)
      const delivered = fake.received.at(-1)!
      verifyVapid(String(delivered.headers.authorization), fake.base, config.VAPID_PUBLIC_KEY)
      const text = sub.decrypt(delivered.body)
      assert.deepEqual(JSON.parse(text), payload)

      // Hand the decrypted message to the service worker as the browser's push service would.
      const cdp = await context.newCDPSession(page)
      await cdp.send('ServiceWorker.enable')
      const registrationId = await new Promise<string>((resolve) => {
        cdp.on(
          'ServiceWorker.workerRegistrationUpdated',
          (event: { registrations: { registrationId: string }[] }) => {
            const first = event.registrations[0]
            if (first) resolve(first.registrationId)
          },
        )
      })
      await cdp.send('ServiceWorker.deliverPushMessage', { origin: live.base, registrationId, data: text })
      const shown = await page.waitForFunction(`navigator.serviceWorker.ready
      .then((reg) => reg.getNotifications())
      .then((notes) => notes.map((n) => n.title).join(','))`)
      assert.equal(await shown.jsonValue(), 'Test reminder')

      fake.state.status = 410
      assert.equal(await sendPushToPerson(db, person.id, payload, options), false)
      assert.equal((await listPushSubscriptions(db, person.id)).length, 0)
    },
  )

  await t.test(
    'kiosk layout: 320 px wide, 48 px touch targets, no layout shift, dark mode contrast',
    async () => {
      await page.setViewportSize({ width: 320, height: 640 })
      for (const path of ['/', '/profile']) {
        await page.goto(url(path))
        await page.waitForLoadState('load')
        const layout = (await page.evaluate(`(() => {
        const small = []
        for (const el of document.querySelectorAll('button, .button, input:not([type=hidden]), .bar a')) {
          const box = el.getBoundingClientRect()
          if (box.width === 0 && box.height === 0) continue
          if (box.height < 48) small.push(el.textContent.trim() + ' ' + Math.round(box.height) + 'px')
        }
        return { overflow: document.documentElement.scrollWidth - window.innerWidth, small }
      })()`)) as { overflow: number; small: string[] }
        assert.equal(layout.overflow, 0, `${path} fits 320 px without scrolling sideways`)
        assert.deepEqual(layout.small, [], `${path} touch targets are at least 48 px tall`)
      }
      await page.goto(url('/'))
      await page.waitForTimeout(500)
      const shift = await page.evaluate(`new Promise((resolve) => {
      let total = 0
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (!entry.hadRecentInput) total += entry.value
      }).observe({ type: 'layout-shift', buffered: true })
      setTimeout(() => resolve(total), 200)
    })`)
      assert.equal(shift, 0, 'no layout shift on the home page')
      await page.emulateMedia({ colorScheme: 'dark', reducedMotion: 'reduce' })
      await page.goto(url('/profile'))
      await expectNoAxeViolations(page, 'profile (dark mode)')
      await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'no-preference' })
      await page.setViewportSize({ width: 390, height: 844 })
    },
  )

  await t.test('the error page is accessible too', async () => {
    const response = await page.goto(url('/no-such-page'))
    assert.equal(response?.status(), 404)
    await expectNoAxeViolations(page, 'error')
  })

  assert.deepEqual(cspErrors, [], 'no Content Security Policy violations')
})
