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
import { launchChromiumProfile } from '../../testing/chromium.js'
import { eventually } from '../../testing/eventually.js'
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

test('the installable offline app, in a real browser', async (t) => {
  await buildServiceWorker()
  const live = await startLiveApp(t)
  const { db, config } = live.app.ctx
  // A persistent profile: Chromium does not offer to install apps from an incognito context.
  const context = await launchChromiumProfile({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 })
  t.after(() => context.close())
  // A step that fails while offline must not leave the next steps offline too.
  t.afterEach(() => context.setOffline(false))
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
      // Stay offline a while after the tap, so the tap's time and the sync's time are told apart
      // below however fast this machine is (a gap we make, not a wait for an effect).
      const goOnlineAt = after + 3000
      await snap(page, 'home-offline-will-sync.png')
      // Reloading while offline still shows the last known state and the pending tap.
      await page.reload()
      await page.locator('#sync-note', { hasText: 'will sync' }).waitFor()
      // Offline, nothing can reach the server: the tap waits on the device (checked once online).
      assert.equal(
        (await db.selectFrom('visit').selectAll().execute()).length,
        0,
        'nothing reached the server',
      )

      await new Promise((resolve) => setTimeout(resolve, Math.max(0, goOnlineAt - Date.now())))
      const online = Date.now()
      await context.setOffline(false)
      // Chromium fires `online` itself; dispatching it too covers browsers that are slow to. The
      // page may already be navigating to its refreshed self, which ends this evaluation.
      await page.evaluate(`window.dispatchEvent(new Event('online'))`).catch(() => {})
      await page.getByRole('button', { name: 'Sign out' }).waitFor()
      await page.locator('.flash', { hasText: 'You have signed in' }).waitFor()
      const answered = Date.now()
      // Background Sync may replay the tap too, racing the page: wait until it has nothing left to
      // replay (its registration is gone once its replay succeeded), so no second replay can follow.
      await eventually(
        async () =>
          Boolean(
            await page.evaluate(
              `navigator.serviceWorker.ready.then((r) => r.sync.getTags()).then((tags) => tags.length === 0)`,
            ),
          ),
        'Background Sync to have nothing left to replay',
      )
      const visits = await db.selectFrom('visit').selectAll().execute()
      assert.equal(visits.length, 1, 'exactly one visit')
      const signedInAt = visits[0]!.signed_in_at
      // The server dates the tap by its own clock, back by the tap's age on the phone when it was
      // sent (a phone's clock may be wrong): so the sync request's own time, at most from going
      // online to the answer, is the margin of error.
      assert.ok(
        signedInAt >= before && signedInAt <= after + (answered - online),
        `the visit has the time of the tap: ${signedInAt - before} ms after the tap began, which took ${after - before} ms; the sync took ${answered - online} ms`,
      )
      assert.ok(signedInAt < online, 'not the time it was synced')
      assert.equal(await page.locator('#sync-note').isHidden(), true)
      await expectNoAxeViolations(page, 'home (signed in)')
      await snap(page, 'home-signed-in.png')
    },
  )

  await t.test(
    'a tap saved while the session ran out is still sent, with a fresh token, once online',
    async () => {
      await page.goto(url('/'))
      await page.getByRole('button', { name: 'Sign out' }).waitFor()
      await context.setOffline(true)
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.locator('#sync-note', { hasText: 'will sync' }).waitFor()
      // The session, and the CSRF secret in it, ends while the phone is offline (a day without a
      // tap, or the browser restarted: it is a session cookie). The page's token and the one the
      // service worker kept are dead; the device itself is still signed in.
      await context.clearCookies({ name: 'br_session' })
      await context.setOffline(false)
      await page.evaluate(`window.dispatchEvent(new Event('online'))`).catch(() => {})
      await page.locator('.flash', { hasText: 'You have signed out' }).waitFor()
      const visits = await db.selectFrom('visit').selectAll().execute()
      assert.equal(visits.length, 1)
      assert.notEqual(visits[0]!.signed_out_at, null, 'the register has the person out, as the phone said')
      await page.getByRole('button', { name: 'Sign in' }).waitFor()
      assert.equal(await page.locator('#sync-note').isHidden(), true)
      // The next steps expect the person inside, as the earlier steps left them.
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.locator('.flash', { hasText: 'You have signed in' }).waitFor()
    },
  )

  await t.test(
    'with no Background Sync (Safari), a tap whose send failed is sent again by the open page, with no `online` event',
    async () => {
      // A page of its own, so hiding Background Sync does not outlive this step.
      const safari = await context.newPage()
      t.after(() => safari.close())
      await safari.addInitScript('delete ServiceWorkerRegistration.prototype.sync')
      await safari.goto(url('/'))
      await safari.getByRole('button', { name: 'Sign out' }).waitFor()
      // Bad signal at the door: the phone thinks it is online, the request does not get through.
      await safari.route('**/taps', (route) => route.abort('internetdisconnected'))
      await safari.getByRole('button', { name: 'Sign out' }).click()
      await safari.locator('#sync-note', { hasText: 'Saved on this device' }).waitFor()
      assert.equal(await safari.locator('body.state-out').count(), 1)
      // The signal comes back, with no `online` event (the phone never thought it was offline).
      await safari.unroute('**/taps')
      await safari.locator('.flash', { hasText: 'You have signed out' }).waitFor()
      const visits = await db.selectFrom('visit').selectAll().orderBy('id').execute()
      assert.notEqual(
        visits.at(-1)!.signed_out_at,
        null,
        'the register has the person out, as the phone said',
      )
      await safari.getByRole('button', { name: 'Sign in' }).click()
      await safari.locator('.flash', { hasText: 'You have signed in' }).waitFor()
      await safari.close()
    },
  )

  await t.test(
    "the phone's clock set back between two taps saved offline: they are sent, and applied, in the order they were made",
    async () => {
      // A page of its own whose clock can be set back (network time correcting it). With no
      // Background Sync only this page sends the taps, by this clock (the service worker's would not move).
      const phone = await context.newPage()
      t.after(() => phone.close())
      await phone.addInitScript(`
        delete ServiceWorkerRegistration.prototype.sync
        const realNow = Date.now
        Date.now = () => realNow.call(Date) - Number(sessionStorage.getItem('test:clock-back') || 0)
      `)
      await phone.goto(url('/'))
      await phone.getByRole('button', { name: 'Sign out' }).waitFor()
      const personId = Number(await phone.locator('#status').getAttribute('data-person'))
      const stepStart = Date.now()
      // No signal for this page alone (setOffline would have the other page send the taps when back).
      await phone.route('**/taps', (route) => route.abort('internetdisconnected'))
      await phone.getByRole('button', { name: 'Sign out' }).click()
      await phone.locator('#sync-note', { hasText: 'will sync' }).waitFor()
      // The phone's clock goes five minutes back; the person comes straight back in.
      await phone.evaluate(`sessionStorage.setItem('test:clock-back', String(5 * 60 * 1000))`)
      await phone.getByRole('button', { name: 'Sign in' }).click()
      const pending = `RegisterQueue.pendingTaps(${personId}).then((taps) => taps.map((tap) => tap.action))`
      await eventually(
        async () => ((await phone.evaluate(pending)) as string[]).length === 2,
        'the second tap to be saved',
      )
      assert.deepEqual(await phone.evaluate(pending), ['sign-out', 'sign-in'], 'in the order they were made')
      assert.equal(await phone.locator('body.state-in').count(), 1, 'the page shows the last tap: in')

      await phone.unroute('**/taps')
      await phone.evaluate(`window.dispatchEvent(new Event('online'))`).catch(() => {})
      // Both sent: the page reloads with what became of them.
      await phone.locator('.flash').first().waitFor()
      const told = (await phone.locator('.flash').allTextContents()).join(' | ')
      assert.match(told, /You have signed out[\s\S]*You have signed in/, told)
      const [out, back] = (await db.selectFrom('visit').selectAll().orderBy('id').execute()).slice(-2)
      assert.ok(
        out!.signed_out_at !== null && out!.signed_out_at >= stepStart,
        'the sign-out was applied: the visit before ends in this step',
      )
      assert.ok(
        back!.signed_in_at >= stepStart && back!.signed_out_at === null,
        'the sign-in after it was applied too: they are inside, on the fire list',
      )
      await phone.close()
    },
  )

  await t.test(
    'taps saved by the previous version of the queue (no save order) are still sent first, oldest first',
    async () => {
      await page.goto(url('/'))
      await page.getByRole('button', { name: /Sign (in|out)/ }).waitFor()
      // Someone else's taps on this device (a shared phone), so this page sends none of them.
      const order = await page.evaluate(`(async () => {
        const owner = -1
        const taps = (mode, work) => new Promise((resolve, reject) => {
          const open = indexedDB.open('building-register')
          open.onsuccess = () => {
            const tx = open.result.transaction('taps', mode)
            work(tx.objectStore('taps'))
            tx.oncomplete = () => { open.result.close(); resolve() }
            tx.onerror = () => reject(tx.error)
          }
        })
        // Saved before the update, a minute ahead of the clock as it is now (it went back since).
        const ahead = Date.now() + 60 * 1000
        await taps('readwrite', (s) => {
          // Keys in the other order than their times: the store lists them by key.
          s.put({ key: 'a-second', action: 'sign-out', at: ahead + 1000, personId: owner })
          s.put({ key: 'b-first', action: 'sign-in', at: ahead, personId: owner })
        })
        await RegisterQueue.addTap('sign-in', owner, '')
        const order = (await RegisterQueue.pendingTaps(owner)).map((t) => t.seq ? 'new' : t.key)
        const rest = await RegisterQueue.pendingTaps(owner)
        await taps('readwrite', (s) => { for (const t of rest) s.delete(t.key) })
        return order
      })()`)
      assert.deepEqual(order, ['b-first', 'a-second', 'new'])
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
    'offline, "Your visits" and the profile show the last copy and say it is offline',
    async () => {
      for (const path of ['/history', '/profile']) {
        await page.goto(url(path))
        assert.equal(await page.locator('#offline-note').isHidden(), true, `${path} online: no offline note`)
        // The service worker stores its copy after answering: wait for it.
        await eventually(
          async () =>
            Boolean(
              await page.evaluate(`caches.open('pages').then((c) => c.match('${path}')).then(Boolean)`),
            ),
          `the service worker's copy of ${path}`,
        )
      }
      await context.setOffline(true)
      // The open page hears the network go, and says so.
      await page.locator('#offline-note', { hasText: 'You are offline' }).waitFor()
      for (const [path, heading] of [
        ['/history', 'Your visits'],
        ['/profile', 'Your name'],
      ] as const) {
        // Known and not yet understood: on PostgreSQL's pass, about one first offline navigation in
        // three resolves with no response and the old page still showing (as if the tap did
        // nothing). Asked again, the copy shows. The test asks until the address changes, so what it
        // checks is the copy; the dropped navigation is noted on issue 20.
        await eventually(async () => {
          await page.goto(url(path))
          return new URL(page.url()).pathname === path
        }, `an offline navigation to ${path}`)
        // The last copy, not the browser's error page (on failure, say what was shown instead).
        await page
          .locator('h1', { hasText: heading })
          .waitFor()
          .catch(async (error) => {
            const shown = await page.evaluate(
              `document.title + ' | ' + (document.querySelector('h1')?.textContent ?? 'no h1')`,
            )
            throw new Error(`${path} offline showed "${shown}" instead of "${heading}"`, { cause: error })
          })
        await page.locator('#offline-note', { hasText: 'You are offline. This is a copy from' }).waitFor()
        await expectNoAxeViolations(page, `${path} offline`)
      }
      await context.setOffline(false)
      // Back online, the page fetches itself afresh and the note goes (Chromium fires `online`
      // itself; dispatching it too covers browsers that are slow to).
      await page.evaluate(`window.dispatchEvent(new Event('online'))`).catch(() => {})
      await page.waitForFunction(`!document.querySelector('#offline-note')?.dataset.fromCache`)
      assert.equal(await page.locator('#offline-note').isHidden(), true)
    },
  )

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
      // Deliver once the service worker's version is activated, as a browser does.
      let registrationId = ''
      cdp.on(
        'ServiceWorker.workerVersionUpdated',
        (event: { versions: { registrationId: string; status: string }[] }) => {
          const active = event.versions.find((v) => v.status === 'activated')
          if (active) registrationId = active.registrationId
        },
      )
      await cdp.send('ServiceWorker.enable')
      await eventually(() => registrationId !== '', 'an activated service worker')
      // The service worker shows it a moment later: poll what is shown (waitForFunction does not
      // wait on a promise's value, it takes the promise itself as the answer). On a busy machine
      // DevTools' delivery is sometimes lost before the worker wakes; a push service delivers again
      // what the browser did not take (RFC 8030), and so does this, every 5 s (same tag: shown once).
      let titles = ''
      let deliveredAt = 0
      await eventually(async () => {
        if (Date.now() - deliveredAt > 5000) {
          await cdp.send('ServiceWorker.deliverPushMessage', {
            origin: live.base,
            registrationId,
            data: text,
          })
          deliveredAt = Date.now()
        }
        titles = String(
          await page.evaluate(`navigator.serviceWorker.ready
              .then((reg) => reg.getNotifications())
              .then((notes) => notes.map((n) => n.title).join(','))`),
        )
        return titles !== ''
      }, 'the notification to be shown')
      assert.equal(titles, 'Test reminder')

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

  await t.test(
    "logging out: the device forgets the person's state, offline taps and page copies",
    async () => {
      await page.goto(url('/'))
      await page.getByRole('button', { name: /Sign (in|out)/ }).waitFor()
      const stored = `(async () => {
        const request = indexedDB.open('building-register')
        const db = await new Promise((resolve, reject) => { request.onsuccess = () => resolve(request.result); request.onerror = () => reject(request.error) })
        const count = (store) => new Promise((resolve) => { const r = db.transaction(store).objectStore(store).count(); r.onsuccess = () => resolve(r.result) })
        const found = { state: await count('state'), taps: await count('taps'), pages: await caches.has('pages') }
        db.close()
        return found
      })()`
      // Something to forget: the home page keeps the person's state; a tap saved offline.
      await eventually(
        async () => ((await page.evaluate(stored)) as { state: number }).state === 1,
        'the saved state',
      )
      await page.evaluate(`RegisterQueue.addTap('sign-in', 0, '')`)
      await page.goto(url('/profile'))
      await page.getByRole('button', { name: 'Log out of this device' }).click()
      await page.waitForURL(url('/login'))
      // The login page forgets it once it has loaded.
      await eventually(async () => {
        const found = (await page.evaluate(stored)) as { state: number; taps: number; pages: boolean }
        return found.state === 0 && found.taps === 0 && !found.pages
      }, 'the state, the taps and the page copies to be forgotten')
      assert.ok(Number(await page.evaluate(`localStorage.getItem('register:signed-out-at')`)) > 0)
    },
  )

  await t.test(
    'a tap saved on a device signed out meanwhile: the page says it was not sent, not "will sync"',
    async () => {
      await page.goto(url('/login'))
      await page.getByLabel(/Email address/).fill('alice@example.org')
      await page.getByRole('button', { name: 'Send me a code' }).click()
      await page.getByLabel('6-digit code').fill(live.lastCode('alice@example.org'))
      await page.getByRole('button', { name: 'Continue' }).click()
      await page.waitForURL(url('/'))
      await page.getByRole('button', { name: /Sign (in|out)/ }).waitFor()
      await context.setOffline(true)
      await page.getByRole('button', { name: /Sign (in|out)/ }).click()
      await page.locator('#sync-note', { hasText: 'will sync' }).waitFor()
      // Signed out from elsewhere (the profile of another device, an admin) while offline.
      await db.updateTable('device').set({ revoked_at: Date.now() }).where('revoked_at', 'is', null).execute()
      await context.setOffline(false)
      await page.evaluate(`window.dispatchEvent(new Event('online'))`).catch(() => {})
      await page.locator('#sync-note', { hasText: 'not sent: this device is no longer signed in' }).waitFor()
    },
  )

  await t.test('the error page is accessible too', async () => {
    const response = await page.goto(url('/no-such-page'))
    assert.equal(response?.status(), 404)
    await expectNoAxeViolations(page, 'error')
  })

  assert.deepEqual(cspErrors, [], 'no Content Security Policy violations')
})
