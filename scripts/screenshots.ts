import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { buildApp } from '../server/app.js'
import { loadConfig } from '../server/config.js'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { projectRoot } from '../server/paths.js'
import { launchChromium } from '../server/testing/chromium.js'

/**
 * `npm run screenshots`: renders the README's pictures from the real app (in-memory database) in
 * Debian's Chromium at a phone's size. Writes docs/screenshots/*.png.
 */
const out = join(projectRoot, 'docs', 'screenshots')
mkdirSync(out, { recursive: true })
const lines: string[] = []
const config = loadConfig({
  ...process.env,
  NODE_ENV: 'test',
  DATABASE_PATH: ':memory:',
  SESSION_SECRET: 'screenshots-screenshots-screenshots-0123456789',
  SITE_NAME: 'Acme House register',
})
const app = await buildApp(config, {
  logger: false,
  channels: () => [consoleChannel({ info: (line: string) => lines.push(line) })],
})
const address = await app.listen({ host: '127.0.0.1', port: 0 })
const browser = await launchChromium()
try {
  const page = await browser.newPage({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  })
  await page.goto(`${address}/login`)
  await page.fill('#contact', 'alice.smith@example.org')
  await page.screenshot({ path: join(out, 'login.png') })
  await page.click('button[type=submit]')
  const code = /code is (\d{6})/.exec(lines.at(-1) ?? '')?.[1]
  if (!code) throw new Error('no code in the console log')
  await page.fill('#code', code)
  await page.click('button[type=submit]')
  await page.fill('#firstName', 'Alice')
  await page.fill('#lastName', 'Smith')
  await page.click('button[type=submit]')
  await page.waitForURL(`${address}/`)
  await page.screenshot({ path: join(out, 'home-signed-out.png') })
  // The tap is sent at once and the page reloads with the server's answer.
  await Promise.all([page.waitForNavigation(), page.click('button.big')])
  await page.waitForSelector('body.state-in')
  await page.screenshot({ path: join(out, 'home-signed-in.png') })
  console.log(`Screenshots written to ${out}`)
} finally {
  await browser.close()
  await app.close()
}
