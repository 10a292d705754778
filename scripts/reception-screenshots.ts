import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../server/app.js'
import { loadConfig } from '../server/config.js'
import { insertContact } from '../server/identity/contact.repository.js'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { projectRoot } from '../server/paths.js'
import { type TestBrowser, TestClock } from '../server/testing/build-test-app.js'
import { launchChromium } from '../server/testing/chromium.js'
import { personWithRole, tapSignIn, tapSignOut } from '../server/testing/reception.js'

/**
 * `npm run screenshots:reception`: renders the reception pictures (presence board, display mode,
 * roll call on a phone in light and dark, marks saved with no signal, the assembly-point poster
 * and its check-in page, message deliveries) from the real app with made-up people.
 */
const out = join(projectRoot, 'docs', 'screenshots')
mkdirSync(out, { recursive: true })
const outbox: string[] = []
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'test',
  DATABASE_PATH: ':memory:',
  SESSION_SECRET: 'screenshots-screenshots-screenshots-0123456789',
  SITE_NAME: 'Acme House register',
})
const clock = new TestClock(Date.parse('2026-11-23T07:40:00Z'))
const app = await buildApp(config, {
  logger: false,
  clock,
  channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
})
const test = {
  app,
  clock,
  config,
  outbox,
  lastCode(contact: string) {
    const line = outbox.findLast((l) => l.startsWith(`message to ${contact} `)) ?? ''
    return /code[^0-9]*is (\d{6})/.exec(line)?.[1] ?? ''
  },
}
const names = [
  ['Amara', 'Okafor'],
  ['Ben', 'Hughes'],
  ['Chloé', 'Martin'],
  ['Dev', 'Patel'],
  ['Eilidh', 'Campbell'],
  ['Farah', 'Khan'],
  ['Gus', 'Lindqvist'],
  ['Hana', 'Sato'],
  ['Iwan', 'Jones'],
  ['Jo', 'Rivera'],
  ['Kofi', 'Mensah'],
  ['Lena', 'Fischer'],
  // Two people with one name: the fire list tells them apart.
  ['Ben', 'Hughes'],
] as const
clock.set('2026-11-22T08:30:00Z')
const stale = await personWithRole(test, 'mo@example.org', { firstName: 'Mo', lastName: 'Ahmed' })
await tapSignIn(stale.browser)
clock.set('2026-11-23T07:40:00Z')
const people = []
for (const [i, [firstName, lastName]] of names.entries()) {
  const p = await personWithRole(test, `p${i}@example.org`, { firstName, lastName })
  clock.advance(7 * 60_000)
  await tapSignIn(p.browser)
  people.push(p)
}
// Reception sees numbers to call on the fire list.
for (const [i, p] of people.entries()) {
  if (i % 3 === 0) {
    const value = `+4474001112${String(i).padStart(2, '0')}`
    await insertContact(app.ctx.db, { personId: p.id, kind: 'phone', value, at: clock.now() })
  }
}
clock.advance(40 * 60_000)
await tapSignOut(people[10]!.browser)
await tapSignOut(people[11]!.browser)
const desk = await personWithRole(
  test,
  'desk@example.org',
  { firstName: 'Rita', lastName: 'Desk' },
  'reception',
)
const ben = await personWithRole(
  test,
  'ben.m@example.org',
  { firstName: 'Ben', lastName: 'Marshal' },
  'reception',
)
clock.set('2026-11-23T10:15:00Z')

const address = await app.listen({ host: '127.0.0.1', port: 0 })
const browser = await launchChromium()
const cookiesOf = (b: TestBrowser) =>
  [...b.cookies].filter(([n]) => n === 'br_device').map(([name, value]) => ({ name, value, url: address }))
try {
  const wide = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  await wide.addCookies(cookiesOf(desk.browser))
  const page = await wide.newPage()
  await page.goto(`${address}/reception`)
  await page.waitForFunction("document.querySelector('[data-live-status]')?.textContent?.startsWith('Live')")
  await page.screenshot({ path: join(out, 'reception-board.png'), fullPage: true })
  await page.setViewportSize({ width: 1600, height: 900 })
  await page.goto(`${address}/reception/display`)
  await page.screenshot({ path: join(out, 'reception-display.png') })

  await page.goto(`${address}/reception`)
  await page.click('button[value="drill"]')
  await page.waitForURL(/roll-calls\/\d+$/)
  const rollCall = page.url()
  await ben.browser.get(rollCall.replace(address, ''))
  for (const p of people.slice(0, 6)) {
    clock.advance(20_000)
    await ben.browser.post(`${rollCall.replace(address, '')}/marks`, { person: String(p.id), status: 'safe' })
  }
  await ben.browser.post(`${rollCall.replace(address, '')}/marks`, {
    person: String(people[7]!.id),
    status: 'missing',
  })

  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  })
  await phone.addCookies(cookiesOf(desk.browser))
  const mobile = await phone.newPage()
  await mobile.goto(rollCall)
  await mobile.waitForFunction(
    "document.querySelector('[data-live-status]')?.textContent?.startsWith('Live')",
  )
  await mobile.screenshot({ path: join(out, 'roll-call-phone.png') })
  await mobile.locator('#unconfirmed').scrollIntoViewIfNeeded()
  await mobile.screenshot({ path: join(out, 'roll-call-unconfirmed-phone.png') })

  // The same page in dark mode, as a phone set to it shows it.
  const dark = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'dark',
  })
  await dark.addCookies(cookiesOf(desk.browser))
  const darkPage = await dark.newPage()
  await darkPage.goto(rollCall)
  await darkPage.screenshot({ path: join(out, 'roll-call-phone-dark.png') })

  // No signal at the assembly point: two marks saved on the phone, not yet sent.
  await mobile.clock.setFixedTime(new Date('2026-11-23T10:17:00Z'))
  await phone.setOffline(true)
  for (const p of people.slice(6, 8)) {
    await mobile.click(`#p-${p.id} button[value="safe"]`)
    await mobile.locator(`#p-${p.id}.pending`).waitFor()
  }
  await mobile.locator('[data-pending-marks]:not([hidden])').waitFor()
  await mobile.evaluate('window.scrollTo(0, 0)')
  await mobile.locator(`#p-${people[6]!.id}`).scrollIntoViewIfNeeded()
  await mobile.screenshot({ path: join(out, 'roll-call-offline-phone.png') })
  await phone.setOffline(false)

  // The assembly-point poster, and the page its QR code opens on someone's phone.
  await page.setViewportSize({ width: 900, height: 1100 })
  await page.goto(`${address}/reception/muster?point=Car%20park%20B`)
  await page.screenshot({ path: join(out, 'muster-poster.png'), fullPage: true })
  const staffPhone = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  })
  await staffPhone.addCookies(cookiesOf(people[9]!.browser))
  const check = await staffPhone.newPage()
  await check.goto(`${address}/muster?point=Car%20park%20B`)
  await check.screenshot({ path: join(out, 'muster-check-in.png') })

  await page.goto(`${address}/reception/broadcasts/new?template=drill`)
  await page.click('button[type=submit].primary')
  await page.waitForURL(/broadcasts\/\d+$/)
  await page.waitForFunction("!document.body.textContent.includes('still sending')")
  await page.setViewportSize({ width: 1100, height: 900 })
  await page.screenshot({ path: join(out, 'broadcast-deliveries.png'), fullPage: true })
  console.log(`Screenshots written to ${out}`)
} finally {
  await browser.close()
  await app.close()
}
