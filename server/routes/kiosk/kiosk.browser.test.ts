import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import type { Page } from 'playwright-core'
import { createKiosk, endKiosk } from '../../kiosk/kiosk.service.js'
import { setStaffPin } from '../../kiosk/staff-pin.service.js'
import { projectRoot } from '../../paths.js'
import { buildServiceWorker } from '../../pwa/build-service-worker.js'
import { fakeCameraArgs, fakeCameraFilming, launchChromium } from '../../testing/chromium.js'
import { makePerson } from '../../testing/factories.js'
import { startLiveApp } from '../../testing/live-app.js'
import { axeProblems, prepareAudit, visualProblems } from '../../testing/page-audit.js'
import { eventually } from '../../testing/reception.js'
import { setSiteNotice } from '../../visitors/site-notice.service.js'
import { visitorLink } from '../../visitors/visitor-links.js'

const screenshots = join(projectRoot, 'docs', 'screenshots')
const system = { ip: '127.0.0.1', userAgent: 'test' }

/** Saves a screenshot for docs/kiosk.md, only when asked (SCREENSHOTS=1), so test runs leave git clean. */
async function snap(page: Page, name: string): Promise<void> {
  if (!process.env.SCREENSHOTS) return
  await mkdir(screenshots, { recursive: true })
  await page.screenshot({ path: join(screenshots, name) })
}

/** Axe (WCAG A/AA and best practice) and the project's own contrast, naming and overflow checks. */
async function expectAccessible(page: Page, name: string): Promise<void> {
  assert.deepEqual([...(await axeProblems(page)), ...(await visualProblems(page))], [], name)
}

/**
 * A 1024×768 touch tablet in Chromium, its camera allowed (Chromium's test camera), and the script
 * errors and CSP violations its page reports.
 */
async function tabletPage(t: TestContext, base: string) {
  const browser = await launchChromium(fakeCameraArgs)
  t.after(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true })
  await context.grantPermissions(['camera'], { origin: base })
  await prepareAudit(context)
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (m) => {
    // Offline fetches fail, and a wrong code or PIN is a 4xx answer: expected, not script errors.
    if (m.type() === 'error' && !/ERR_INTERNET_DISCONNECTED|Failed to fetch|status of 4\d\d/.test(m.text()))
      problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(e.message))
  return { context, page, problems }
}

test('the kiosk in a real browser on a 1024×768 tablet: pair, visitors in (with photo) and out, offline queue replayed once with real times, staff PIN; accessible', async (t) => {
  await buildServiceWorker()
  const live = await startLiveApp(t)
  const { db, keys } = live.app.ctx
  const at = Date.now()
  const zoe = await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: 'zoe@example.org' })
  const pat = await makePerson(db, { firstName: 'Pat', lastName: 'Noph', email: 'pat@example.org' })
  await setStaffPin(db, { personId: pat, at, context: system }, '4826')
  await setSiteNotice(db, { personId: null, at, context: system }, 'Wear your badge at all times.')
  const { code } = await createKiosk(db, keys.kiosk, { personId: null, at, context: system }, 'Main entrance')

  const { context, page, problems } = await tabletPage(t, live.base)
  const url = (path: string) => `${live.base}${path}`
  const visitors = () => db.selectFrom('visitor').selectAll().orderBy('id').execute()

  await t.test('pairing with the code an admin was given', async () => {
    await page.goto(url('/kiosk'))
    await expectAccessible(page, 'pairing page')
    await snap(page, 'kiosk-pair.png')
    await page.getByLabel('Pairing code').fill('WRONG-123')
    await page.getByRole('button', { name: 'Pair' }).click()
    await page.locator('.field-error, [id$="-error"]', { hasText: /code/i }).first().waitFor()
    await page.getByLabel('Pairing code').fill(code.toLowerCase())
    await page.getByRole('button', { name: 'Pair' }).click()
    await page.getByRole('heading', { name: 'Welcome' }).waitFor()
    // The start screen: the door code, three choices, nobody's details.
    await page.locator('#door-qr:not([hidden])').waitFor()
    assert.doesNotMatch((await page.locator('body').textContent()) ?? '', /Zoë|Pat|@/)
    await expectAccessible(page, 'kiosk start screen')
    await snap(page, 'kiosk-home.png')
  })

  await t.test('a visitor signs in: host search, site notice, photo; badge print view', async () => {
    await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
    await page.getByLabel('Your full name').fill('Vera Visitor')
    await page.getByLabel('Company').fill('Acme Ltd')
    await page.getByLabel('Who are you visiting?').fill('zo')
    await page.getByLabel('Who are you visiting?').fill('zoe h')
    await page.getByRole('button', { name: 'Zoë Hôst' }).click()
    assert.equal(await page.getByRole('button', { name: 'Zoë Hôst' }).getAttribute('aria-pressed'), 'true')
    await page.getByRole('button', { name: /Add a photo/ }).click()
    await page.getByRole('button', { name: 'Take it' }).click()
    await page.getByRole('img', { name: 'Your badge photo' }).waitFor()
    // The docs' picture: the form filled in and the notice accepted, before any error is shown.
    await page.getByLabel(/I have read and accept/).check()
    await snap(page, 'kiosk-visitor-form.png')
    await page.getByLabel(/I have read and accept/).uncheck()
    // The notice must be accepted: the kiosk says so and sends nothing.
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.locator('#visitor-error', { hasText: 'site notice' }).waitFor()
    assert.equal((await visitors()).length, 0)
    await expectAccessible(page, 'visitor sign-in form')
    await page.getByLabel(/I have read and accept/).check()
    const before = Date.now()
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.locator('#visitor-done-text', { hasText: 'Welcome, Vera Visitor' }).waitFor()
    const [vera] = await visitors()
    assert.ok(vera)
    assert.equal(vera.host_person_id, zoe)
    assert.equal(vera.company, 'Acme Ltd')
    assert.ok(vera.notice_id !== null, 'the notice version is kept')
    assert.match(vera.photo ?? '', /^data:image\/jpeg;base64,/)
    assert.ok(Number(vera.signed_in_at) >= before)
    await expectAccessible(page, 'visitor welcome')
    await snap(page, 'kiosk-visitor-done.png')

    await page.getByRole('link', { name: 'Print your badge' }).click()
    await page.getByRole('heading', { name: 'Vera Visitor' }).waitFor()
    assert.match((await page.locator('.badge').textContent()) ?? '', /Acme Ltd[\s\S]*Zoë Hôst/)
    assert.equal(await page.getByRole('img', { name: 'Photo of Vera Visitor' }).count(), 1)
    await expectAccessible(page, 'badge')
    await page.emulateMedia({ media: 'print' })
    // Only the badge prints: the buttons around it do not.
    assert.equal(await page.locator('.badge-controls').isVisible(), false)
    assert.equal(await page.locator('.badge').isVisible(), true)
    await snap(page, 'kiosk-badge.png')
    await page.emulateMedia({ media: 'screen' })
  })

  let offlineFrom = 0
  let offlineTo = 0
  await t.test('offline: the kiosk says so, keeps a sign-in with its time, and sends it once', async () => {
    await page.goto(url('/kiosk'))
    await page.getByRole('heading', { name: 'Welcome' }).waitFor()
    await page.evaluate('navigator.serviceWorker.ready')
    await context.setOffline(true)
    await page.locator('#kiosk-offline').waitFor()
    await page.locator('#door-qr').waitFor({ state: 'hidden' })
    await expectAccessible(page, 'offline start screen')
    await snap(page, 'kiosk-offline.png')

    await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
    await page.getByLabel('Your full name').fill('Olly Offline')
    await page.getByLabel('Company').fill('Nettless plc')
    await page.getByLabel('Who are you visiting?').fill('Zoë Hôst')
    await page.locator('#v-host-results', { hasText: 'needs the network' }).waitFor()
    await page.getByLabel(/I have read and accept/).check()
    offlineFrom = Date.now()
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.locator('#visitor-done-text', { hasText: 'This kiosk is offline' }).waitFor()
    offlineTo = Date.now()
    await page.locator('#kiosk-pending', { hasText: '1 waiting' }).waitFor()
    // A reload with no network still shows the kiosk (the service worker's copy) and the queue.
    await page.reload()
    await page.getByRole('heading', { name: 'Welcome' }).waitFor()
    await page.locator('#kiosk-pending', { hasText: '1 waiting' }).waitFor()
    assert.equal((await visitors()).length, 1, 'nothing reached the server')

    // Back online 3 s later (a gap we make, so the time it was made and the time it was sent are
    // told apart below however busy this machine is).
    await new Promise((resolve) => setTimeout(resolve, 3000))
    const online = Date.now()
    await context.setOffline(false)
    await page.evaluate(`window.dispatchEvent(new Event('online'))`)
    await eventually(async () => (await visitors()).length === 2, 'the offline sign-in arrives')
    const arrived = Date.now()
    await page.locator('#kiosk-offline').waitFor({ state: 'hidden' })
    // The kiosk clears its queue once it has the server's answer, a moment after the row is saved.
    await eventually(
      async () => (await page.locator('#kiosk-pending').textContent()) === '',
      'the kiosk to empty its queue',
    )
    // A second replay (the 30-second timer, another `online`) sends nothing more.
    await page.evaluate(`window.dispatchEvent(new Event('online'))`)
    await page.reload()
    await page.locator('#door-qr:not([hidden])').waitFor()
    const all = await visitors()
    assert.equal(all.length, 2, 'applied exactly once')
    const olly = all[1]!
    assert.equal(olly.name, 'Olly Offline')
    assert.equal(olly.host_person_id, zoe, 'the typed host matched one person')
    const signedIn = Number(olly.signed_in_at)
    // The server dates it by its own clock, back by its age on the tablet when it was sent: the
    // sending request's own time (at most from going online to its arrival) is the margin of error.
    assert.ok(
      signedIn >= offlineFrom - 1000 && signedIn <= offlineTo + (arrived - online),
      `the time it was made: ${signedIn - offlineFrom} ms after the tap began, which took ${offlineTo - offlineFrom} ms; sending took ${arrived - online} ms`,
    )
    assert.ok(signedIn < online, 'not the time it was sent')
  })

  await t.test(
    'a sign-in whose answer is lost on the way back is saved and sent again, and counts once',
    async () => {
      await page.goto(url('/kiosk'))
      await page.locator('#door-qr:not([hidden])').waitFor()
      const before = (await visitors()).length
      // The sign-in reaches the server and is saved; the answer never reaches the tablet (the
      // wifi drops as it comes back), so the kiosk takes itself for offline and keeps the sign-in.
      let lost = 0
      await context.route('**/kiosk/api/visitors', async (route) => {
        if (route.request().method() !== 'POST' || lost > 0) return route.fallback()
        lost++
        await route.fetch()
        await route.abort('internetdisconnected')
      })
      await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
      await page.getByLabel('Your full name').fill('Lena Lostanswer')
      await page.getByLabel('Who are you visiting?').fill('zoe')
      await page.getByRole('button', { name: 'Zoë Hôst' }).click()
      await page.getByLabel(/I have read and accept/).check()
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.locator('#visitor-done-text', { hasText: 'This kiosk is offline' }).waitFor()
      assert.equal((await visitors()).length, before + 1, 'the first copy was saved')

      await page.evaluate(`window.dispatchEvent(new Event('online'))`)
      await eventually(
        async () => (await page.locator('#kiosk-pending').textContent()) === '',
        'the kiosk to send what it kept',
      )
      await context.unroute('**/kiosk/api/visitors')
      const lenas = (await visitors()).filter((v) => v.name === 'Lena Lostanswer')
      assert.equal(lenas.length, 1, 'Lena is on the fire list once, not twice')
      await page.goto(url('/kiosk'))
      await page.locator('#door-qr:not([hidden])').waitFor()
    },
  )

  await t.test(
    'a sign-in the register cannot take just now (503 while it restarts, a 502 from the proxy after it saved it) is kept and sent again, not lost as "check the details"; each visitor once',
    async () => {
      await page.goto(url('/kiosk'))
      await page.locator('#door-qr:not([hidden])').waitFor()
      const before = (await visitors()).length
      // The tablet has the network; the register does not answer as it should. Sam's try never
      // reaches it (503); Gus's is saved and then the proxy answers 502 in its place.
      let tries = 0
      await context.route('**/kiosk/api/visitors', async (route) => {
        if (route.request().method() !== 'POST' || tries >= 2) return route.fallback()
        tries++
        if (tries === 2) await route.fetch()
        await route.fulfill({
          status: tries === 1 ? 503 : 502,
          contentType: 'text/html',
          body: '<h1>Bad gateway</h1>',
        })
      })
      const signIn = async (name: string) => {
        await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
        await page.getByLabel('Your full name').fill(name)
        await page.getByLabel('Who are you visiting?').fill('zoe')
        await page.getByRole('button', { name: 'Zoë Hôst' }).click()
        await page.getByLabel(/I have read and accept/).check()
        const from = Date.now()
        await page.getByRole('button', { name: 'Sign in', exact: true }).click()
        await page.locator('#visitor-done-text', { hasText: `Welcome, ${name}` }).waitFor()
        const to = Date.now()
        assert.match(
          (await page.locator('#visitor-done-text').textContent()) ?? '',
          /saved here with the time .* Please tell reception you have arrived/,
          'told their sign-in is kept, and to tell reception',
        )
        assert.equal(await page.locator('#visitor-error').textContent(), '', 'not "check the details"')
        await page.getByRole('button', { name: 'Done' }).click()
        return { from, to }
      }
      const samAt = await signIn('Sam Servererror')
      await signIn('Gus Gateway')
      assert.equal((await visitors()).length, before + 1, 'only Gus’s first try reached the register')

      await context.unroute('**/kiosk/api/visitors')
      const sending = Date.now()
      await page.evaluate(`window.dispatchEvent(new Event('online'))`)
      await eventually(
        async () => (await visitors()).some((v) => v.name === 'Sam Servererror'),
        'Sam’s saved sign-in to arrive',
      )
      const arrived = Date.now()
      await eventually(
        async () => (await page.locator('#kiosk-pending').textContent()) === '',
        'the kiosk to send what it kept',
      )
      const all = await visitors()
      assert.equal(all.filter((v) => v.name === 'Gus Gateway').length, 1, 'Gus once, not twice')
      const sam = all.filter((v) => v.name === 'Sam Servererror')
      assert.equal(sam.length, 1, 'Sam once')
      assert.equal(sam[0]!.host_person_id, zoe)
      const signedIn = Number(sam[0]!.signed_in_at)
      // Dated back by its age on the tablet: the sending request's own time is the margin of error.
      assert.ok(
        signedIn >= samAt.from - 1000 && signedIn <= samAt.to + (arrived - sending),
        `the time Sam signed in: ${signedIn - samAt.from} ms after the tap began`,
      )
      assert.ok(signedIn < sending, 'not the time it was sent')
      // The answers the test made up are not script errors.
      problems.splice(0, problems.length, ...problems.filter((p) => !/status of 50[23]/.test(p)))
      await page.goto(url('/kiosk'))
      await page.locator('#door-qr:not([hidden])').waitFor()
    },
  )

  await t.test(
    'a saved sign-in the server refuses stays on the tablet as a notice for staff until a person dismisses it',
    async () => {
      await page.goto(url('/kiosk'))
      await page.locator('#door-qr:not([hidden])').waitFor()
      const before = (await visitors()).length
      await context.setOffline(true)
      await page.locator('#kiosk-offline').waitFor()
      await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
      await page.getByLabel('Your full name').fill('Rita Refused')
      await page.getByLabel('Who are you visiting?').fill('Zoë Hôst')
      await page.getByLabel(/I have read and accept/).check()
      const ritaFrom = Date.now()
      await page.getByRole('button', { name: 'Sign in', exact: true }).click()
      await page.locator('#visitor-done-text', { hasText: 'This kiosk is offline' }).waitFor()
      const ritaTo = Date.now()
      await page.locator('#kiosk-pending', { hasText: '1 waiting' }).waitFor()

      // The network comes back only 13 hours later, as far as the server can tell: the saved copy
      // reaches the real server aged 13 hours, and the server refuses it.
      await context.route('**/kiosk/api/visitors', async (route) => {
        const sent = JSON.parse(route.request().postData() ?? '{}')
        if (route.request().method() !== 'POST' || sent.action !== 'visitor-sign-in') return route.fallback()
        const postData = JSON.stringify({ ...sent, at: sent.at - 13 * 60 * 60_000 })
        await route.fulfill({ response: await route.fetch({ postData }) })
      })
      await context.setOffline(false)
      await page.evaluate(`window.dispatchEvent(new Event('online'))`)
      const notice = page.getByRole('alert', { name: 'Saved sign-ins not sent' })
      await notice.filter({ hasText: 'Rita Refused' }).waitFor()
      const text = (await notice.textContent()) ?? ''
      assert.match(
        text,
        /1 saved sign-in could not be sent:\s*Rita Refused, \d\d:\d\d — Saved on the kiosk more than 12 hours/,
      )
      assert.match(text, /not put on the fire list[\s\S]*Please tell reception/)
      await context.unroute('**/kiosk/api/visitors')
      assert.equal((await visitors()).length, before, 'Rita is not on the fire list')
      const audited = await db
        .selectFrom('audit_event')
        .select('detail')
        .where('action', '=', 'visitor.saved-sign-in-refused')
        .execute()
      assert.equal(audited.length, 1, 'and the server told reception')
      await eventually(
        async () => (await page.locator('#kiosk-pending').textContent()) === '',
        'nothing left to send',
      )
      await expectAccessible(page, 'refused sign-in notice')

      // It stays through a reload and the idle return to the start screen.
      await page.reload()
      await notice.filter({ hasText: 'Rita Refused' }).waitFor()
      await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
      await page.getByRole('button', { name: 'Cancel' }).click()
      assert.equal(await notice.isVisible(), true)

      // A person removes it: one tap asks, the second removes it once the register has recorded
      // that. With no network it stays, and says why: nobody would know it had been removed.
      const dismissed = () =>
        db
          .selectFrom('audit_event')
          .select('detail')
          .where('action', '=', 'visitor.saved-sign-in-dismissed')
          .execute()
      await context.setOffline(true)
      await page.locator('#kiosk-offline').waitFor()
      await notice.getByRole('button', { name: 'Dismiss' }).click()
      assert.equal(await notice.isVisible(), true, 'one brush of the screen does not hide it')
      await notice.getByRole('button', { name: /Reception knows/ }).click()
      await notice.filter({ hasText: 'Removing this notice needs the network' }).waitFor()
      assert.match((await notice.textContent()) ?? '', /Rita Refused/, 'still there')
      assert.equal((await dismissed()).length, 0)
      await context.setOffline(false)
      await notice.getByRole('button', { name: /Reception knows/ }).click()
      await notice.waitFor({ state: 'hidden' })
      const [removal] = await dismissed()
      assert.ok(removal, 'the removal is audited')
      const detail = JSON.parse(removal.detail)
      assert.equal(detail.kiosk, 'Main entrance')
      assert.equal(detail.key, JSON.parse(audited[0]!.detail).key, 'the refused sign-in’s key')
      assert.ok(
        detail.madeAt >= ritaFrom - 1000 && detail.madeAt <= ritaTo + 60_000,
        `when Rita signed in: ${detail.madeAt - ritaFrom} ms after the tap began`,
      )
      assert.doesNotMatch(removal.detail, /Rita/, 'never the visitor’s name')
      await page.reload()
      await page.locator('#door-qr:not([hidden])').waitFor()
      assert.equal(await notice.isVisible(), false, 'gone for good')
    },
  )

  await t.test('a kiosk that cannot save a sign-in offline never says the visitor is signed in', async () => {
    await context.setOffline(true)
    await page.locator('#kiosk-offline').waitFor()
    await page.evaluate(`self.RegisterQueue.addTap = () => Promise.reject(new Error('QuotaExceededError'))`)
    await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
    await page.getByLabel('Your full name').fill('Nora Nostorage')
    await page.getByLabel('Who are you visiting?').fill('Zoë Hôst')
    await page.getByLabel(/I have read and accept/).check()
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.locator('#visitor-error', { hasText: 'could not save your sign-in' }).waitFor()
    assert.equal(await page.locator('#visitor-done-text').isVisible(), false)
    await context.setOffline(false)
    await page.goto(url('/kiosk'))
    await page.locator('#door-qr:not([hidden])').waitFor()
  })

  await t.test('a visitor signs out by finding their name, and confirming it is them', async () => {
    await page.getByRole('button', { name: /I’m visiting — sign out/ }).click()
    await page.getByRole('textbox', { name: 'Your name' }).fill('oll')
    // A tap on a name (perhaps the one next to yours) only asks: signing someone else out would
    // take a person still inside off the fire list.
    await page.getByRole('button', { name: /Olly Offline/ }).click()
    const confirm = page.locator('#out-confirm')
    await confirm.waitFor()
    const signedIn = new Date(Number((await visitors())[1]!.signed_in_at)).toLocaleTimeString('en-GB', {
      timeZone: live.app.ctx.config.TIME_ZONE,
      hour: '2-digit',
      minute: '2-digit',
    })
    assert.match(
      (await page.locator('#out-who').textContent()) ?? '',
      new RegExp(`Olly Offline, Nettless plc — signed in at ${signedIn}`),
      'what tells two visitors of the same name apart',
    )
    await expectAccessible(page, 'visitor sign-out confirmation')
    assert.equal((await visitors())[1]!.signed_out_at, null, 'nothing changes until confirmed')
    await confirm.getByRole('button', { name: 'That is not me' }).click()
    await confirm.waitFor({ state: 'hidden' })
    assert.equal((await visitors())[1]!.signed_out_at, null, 'still signed in')
    await page.getByRole('textbox', { name: 'Your name' }).fill('olly')
    await page.getByRole('button', { name: /Olly Offline/ }).click()
    await confirm.getByRole('button', { name: 'That’s me — sign out' }).click()
    await page.locator('#result-text', { hasText: 'Goodbye, Olly Offline' }).waitFor()
    const olly = (await visitors())[1]!
    assert.ok(olly.signed_out_at !== null)
    await page.getByRole('button', { name: 'Done' }).click()
  })

  // The kiosk's QR scanner (also the invitation's): Chromium on Linux has no BarcodeDetector, so
  // this goes through the jsQR library the app serves, reading real camera frames.
  await t.test('a visitor signs out by holding their badge up to the kiosk camera', async () => {
    const [vera] = await visitors()
    assert.ok(vera && vera.signed_out_at === null)
    // The badge's QR code, filmed by the tablet's camera (a second browser whose camera shows it).
    const dir = mkdtempSync(join(tmpdir(), 'register-camera-'))
    t.after(() => rmSync(dir, { recursive: true, force: true }))
    const filming = await launchChromium(
      fakeCameraFilming(visitorLink(keys.links, live.app.ctx.config.PUBLIC_URL, vera.id, 'out'), dir),
    )
    t.after(() => filming.close())
    const tablet = await filming.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true })
    await tablet.grantPermissions(['camera'], { origin: live.base })
    await tablet.addCookies(await context.cookies())
    const kiosk = await tablet.newPage()
    kiosk.on('pageerror', (e) => problems.push(e.message))
    await kiosk.goto(url('/kiosk'))
    await kiosk.getByRole('button', { name: /I’m visiting — sign out/ }).click()
    await kiosk.getByRole('button', { name: 'Scan the QR code on your badge' }).click()
    await kiosk.locator('#result-text', { hasText: 'Goodbye, Vera Visitor' }).waitFor()
    assert.ok((await visitors())[0]!.signed_out_at !== null)
  })

  await t.test('staff without their phone: name, PIN, signed in', async () => {
    await page.getByRole('button', { name: 'Staff without your phone' }).click()
    await page.getByRole('textbox', { name: 'Your name' }).fill('pat n')
    await page.getByRole('button', { name: 'Pat Noph' }).click()
    await page.getByLabel('Your PIN').fill('0000')
    await page.getByRole('button', { name: 'Sign in or out' }).click()
    await page.locator('#staff-error', { hasText: /PIN/ }).waitFor()
    await expectAccessible(page, 'staff PIN screen')
    await snap(page, 'kiosk-staff-pin.png')
    await page.getByLabel('Your PIN').fill('4826')
    await page.getByRole('button', { name: 'Sign in or out' }).click()
    await page.locator('#result-text', { hasText: /signed in/i }).waitFor()
    const visits = await db.selectFrom('visit').selectAll().where('person_id', '=', pat).execute()
    assert.equal(visits.length, 1)
    assert.equal(visits[0]!.signed_out_at, null)
    await expectAccessible(page, 'staff result')
  })

  await t.test('no script errors or CSP violations', () => {
    assert.deepEqual(problems, [])
  })
})

test('a tablet unpaired while it holds saved sign-ins lists them on the pairing page, and once paired as another kiosk sends them as its own: each visitor once, a refused one shown', async (t) => {
  await buildServiceWorker()
  const live = await startLiveApp(t)
  const { db, keys } = live.app.ctx
  const actor = { personId: null, at: Date.now(), context: system }
  await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: 'zoe@example.org' })
  const north = await createKiosk(db, keys.kiosk, actor, 'North door')
  const side = await createKiosk(db, keys.kiosk, actor, 'Side door')

  const { context, page, problems } = await tabletPage(t, live.base)
  const url = (path: string) => `${live.base}${path}`
  const visitors = () => db.selectFrom('visitor').selectAll().orderBy('id').execute()
  const pair = async (code: string) => {
    await page.getByLabel('Pairing code').fill(code)
    await page.getByRole('button', { name: 'Pair' }).click()
    await page.getByRole('heading', { name: 'Welcome' }).waitFor()
  }
  const signIn = async (name: string) => {
    await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
    await page.getByLabel('Your full name').fill(name)
    await page.getByLabel('Who are you visiting?').fill('zoe')
    await page.getByRole('button', { name: 'Zoë Hôst' }).click()
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.locator('#visitor-done-text', { hasText: 'This kiosk is offline' }).waitFor()
    await page.getByRole('button', { name: 'Done' }).click()
  }

  await page.goto(url('/kiosk'))
  await pair(north.code)
  // The wifi at the North door fails: Lena's sign-in reaches the register but its answer is lost,
  // Wanda's and Rita's reach nothing. The tablet keeps all three.
  let tries = 0
  await context.route('**/kiosk/api/visitors', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback()
    if (tries++ === 0) await route.fetch()
    await route.abort('internetdisconnected')
  })
  await signIn('Lena Lostanswer')
  await signIn('Wanda Waiting')
  await signIn('Rita Refused')
  await page.locator('#kiosk-pending', { hasText: '3 waiting' }).waitFor()
  assert.deepEqual(
    (await visitors()).map((v) => v.name),
    ['Lena Lostanswer'],
  )

  // Before the network is back, an administrator unpairs the North door: the tablet shows the
  // pairing page, which lists what it still holds.
  await endKiosk(db, actor, north.kiosk.id, 'unpaired')
  await context.unroute('**/kiosk/api/visitors')
  // The page may get there first: its replay (every 30 s) now reaches the register, is answered 401
  // and reloads /kiosk. A goto that the reload overtakes is aborted; the page is /kiosk either way.
  await page.goto(url('/kiosk')).catch((error: Error) => {
    if (!/net::ERR_ABORTED/.test(error.message)) throw error
  })
  await page.getByRole('heading', { name: 'Pair this tablet as a kiosk' }).waitFor()
  const waiting = page.getByRole('region', { name: 'Saved sign-ins waiting' })
  await waiting.filter({ hasText: 'Rita Refused' }).waitFor()
  const text = (await waiting.textContent()) ?? ''
  assert.match(text, /3 sign-ins saved on this tablet have not reached the register/)
  for (const name of ['Lena Lostanswer', 'Wanda Waiting', 'Rita Refused'])
    assert.match(text, new RegExp(`${name}, \\d\\d:\\d\\d`))
  assert.match(text, /Pair this tablet to send them[\s\S]*tell reception/)
  await expectAccessible(page, 'pairing page with saved sign-ins')

  // Paired as the Side door, the tablet sends them as its own. Rita's reaches the register 13 hours
  // old, as far as it can tell, and is refused.
  await context.route('**/kiosk/api/visitors', async (route) => {
    const sent = JSON.parse(route.request().postData() ?? '{}')
    if (route.request().method() !== 'POST' || sent.name !== 'Rita Refused') return route.fallback()
    const postData = JSON.stringify({ ...sent, at: sent.at - 13 * 60 * 60_000 })
    await route.fulfill({ response: await route.fetch({ postData }) })
  })
  await pair(side.code)
  const notice = page.getByRole('alert', { name: 'Saved sign-ins not sent' })
  await notice.filter({ hasText: 'Rita Refused' }).waitFor()
  await eventually(
    async () => (await page.locator('#kiosk-pending').textContent()) === '',
    'the kiosk to send what it kept',
  )
  const rows = await visitors()
  assert.deepEqual(
    rows.map((v) => [v.name, v.kiosk_id]),
    [
      ['Lena Lostanswer', north.kiosk.id],
      ['Wanda Waiting', side.kiosk.id],
    ],
    'Lena once (her first try arrived), Wanda as the Side door’s, Rita refused',
  )
  const audit = await db
    .selectFrom('audit_event')
    .select(['action', 'detail'])
    .where('action', 'in', ['visitor.signed-in', 'visitor.saved-sign-in-refused'])
    .orderBy('id')
    .execute()
  assert.deepEqual(
    audit.map((a) => [a.action, JSON.parse(a.detail).kiosk, JSON.parse(a.detail).savedByKiosk]),
    [
      ['visitor.signed-in', 'North door', undefined],
      ['visitor.signed-in', 'Side door', 'North door'],
      ['visitor.saved-sign-in-refused', 'Side door', 'North door'],
    ],
  )
  await context.unroute('**/kiosk/api/visitors')
  // Nothing is left for the pairing page, nor sent again.
  await page.reload()
  await notice.filter({ hasText: 'Rita Refused' }).waitFor()
  assert.equal((await visitors()).length, 2)
  assert.deepEqual(problems, [])
})

test('the staff login page opened in the kiosk’s browser forgets the last person’s taps and state, never the kiosk’s saved sign-ins', async (t) => {
  await buildServiceWorker()
  const live = await startLiveApp(t)
  const { db, keys } = live.app.ctx
  const actor = { personId: null, at: Date.now(), context: system }
  await makePerson(db, { firstName: 'Zoë', lastName: 'Hôst', email: 'zoe@example.org' })
  const { code } = await createKiosk(db, keys.kiosk, actor, 'Main entrance')
  const { context, page, problems } = await tabletPage(t, live.base)
  const url = (path: string) => `${live.base}${path}`
  await page.goto(url('/kiosk'))
  await page.getByLabel('Pairing code').fill(code)
  await page.getByRole('button', { name: 'Pair' }).click()
  await page.getByRole('heading', { name: 'Welcome' }).waitFor()

  // The wifi is down: Olga's sign-in is saved on the tablet.
  await context.route('**/kiosk/api/visitors', (route) =>
    route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.fallback(),
  )
  await page.getByRole('button', { name: /I’m visiting — sign in/ }).click()
  await page.getByLabel('Your full name').fill('Olga Offline')
  await page.getByLabel('Who are you visiting?').fill('zoe')
  await page.getByRole('button', { name: 'Zoë Hôst' }).click()
  await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  await page.locator('#visitor-done-text', { hasText: 'This kiosk is offline' }).waitFor()
  await page.getByRole('button', { name: 'Done' }).click()
  await page.locator('#kiosk-pending', { hasText: '1 waiting' }).waitFor()

  // Someone once used the staff app in this browser (their state and a tap of theirs are saved),
  // and now opens the login page in another tab: the browser forgets that person, as after a logout.
  type Queue = {
    saveState(s: object): Promise<void>
    loadState(): Promise<unknown>
    addTap(action: string, personId: number, pageDay: string): Promise<unknown>
    pendingTaps(personId: number): Promise<unknown[]>
  }
  await page.evaluate(async () => {
    const q = (globalThis as unknown as { RegisterQueue: Queue }).RegisterQueue
    await q.saveState({ personId: 1, state: 'in' })
    await q.addTap('sign-out', 1, '2026-12-03')
  })
  const staffTab = await context.newPage()
  await staffTab.goto(url('/login'))
  await eventually(
    () =>
      page.evaluate(async () => {
        const q = (globalThis as unknown as { RegisterQueue: Queue }).RegisterQueue
        return (await q.loadState()) === undefined && (await q.pendingTaps(1)).length === 0
      }),
    'the login page to forget the last person and their tap',
  )
  await staffTab.close()

  // The network is back: Olga's saved sign-in is still there, and reaches the register.
  await context.unroute('**/kiosk/api/visitors')
  await page.reload()
  await eventually(
    async () =>
      (await db.selectFrom('visitor').select('name').execute()).some((v) => v.name === 'Olga Offline'),
    'Olga’s saved sign-in to reach the register',
  )
  assert.deepEqual(problems, [])
})
