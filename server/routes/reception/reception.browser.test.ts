import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import type { Page } from 'playwright-core'
import { buildTestApp } from '../../testing/build-test-app.js'
import { launchChromium } from '../../testing/chromium.js'
import {
  deskReceptionist,
  personWithRole,
  sendSavedTap,
  tapSignIn,
  tapSignOut,
} from '../../testing/reception.js'

// The bits of the DOM the page functions below use (the project's TypeScript has no DOM library).
declare const document: { querySelector(selector: string): { textContent: string | null } | null }

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/** WCAG 2.x A/AA violations on the current page, as "rule: target" lines. */
async function accessibilityProblems(page: Page): Promise<string[]> {
  // Evaluated through the debugger, so the page's strict CSP stays on for everything else.
  await page.evaluate(axeSource)
  const result = (await page.evaluate(
    "axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa'] })",
  )) as { violations: { id: string; nodes: { target: string[] }[] }[] }
  return result.violations.flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}`))
}

test('in a real browser, the board updates live, a marshal marks without leaving the page, and sign-outs during the roll call (staff and visitors) show on it live', async (t) => {
  const ctx = await buildTestApp(t)
  const desk = await deskReceptionist(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const origin = `http://127.0.0.1:${port}`

  const browser = await launchChromium()
  t.after(() => browser.close())
  const context = await browser.newContext()
  await context.addCookies(
    [...desk.browser.cookies]
      .filter(([name]) => name === 'br_device')
      .map(([name, value]) => ({ name, value, url: origin })),
  )
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text())
  })
  page.on('pageerror', (e) => problems.push(e.message))

  await page.goto(`${origin}/reception`)
  assert.equal(await page.textContent('.headcount .count'), '0')
  await page.waitForFunction(() =>
    document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'),
  )
  await tapSignIn(amy.browser)
  await page.waitForSelector('text=Amy Clark', { timeout: 5000 })
  assert.equal(await page.textContent('.headcount .count'), '1')
  assert.deepEqual(await accessibilityProblems(page), [], 'presence board')
  // Bob and Cara are in too; Cara taps out at 09:10 with no signal, and her phone keeps the tap.
  const bob = await personWithRole(ctx, 'bob@example.org', { firstName: 'Bob', lastName: 'Dale' })
  const cara = await personWithRole(ctx, 'cara@example.org', { firstName: 'Cara', lastName: 'Evans' })
  await tapSignIn(bob.browser)
  await tapSignIn(cara.browser)
  await page.waitForFunction(() => document.querySelector('.headcount .count')?.textContent === '3')
  const caraLeftAt = ctx.clock.now() + 5 * 60_000
  ctx.clock.advance(10 * 60_000)

  await page.click('button[value="drill"]')
  await page.waitForURL(/\/reception\/roll-calls\/\d+$/)
  const url = page.url()
  await page.waitForFunction(() =>
    document.querySelector('[data-live-status]')?.textContent?.startsWith('Live'),
  )
  await page.click('button[value="safe"]')
  await page.waitForFunction(() => document.querySelector('.tally .accounted .count')?.textContent === '1')
  assert.equal(page.url(), url, 'marked without navigating')
  assert.match((await page.textContent(`#p-${amy.id}`)) ?? '', /by Rita Desk/)
  const notAccountedFor = () => page.textContent('.tally .unaccounted .count')
  assert.equal(await notAccountedFor(), '2')

  // During the alarm Bob taps out at the door: his line says so at once, and he still counts.
  ctx.clock.advance(60_000)
  await tapSignOut(bob.browser)
  await page.waitForSelector(`#p-${bob.id} [data-signed-out]`)
  assert.equal(
    await page.textContent(`#p-${bob.id} [data-signed-out]`),
    'Signed out at 09:16, during the alarm',
  )
  assert.equal(await notAccountedFor(), '2', 'a tap is no proof he reached the assembly point')
  // Cara's phone finds signal and sends her 09:10 tap: she was not inside when the alarm rang.
  ctx.clock.advance(60_000)
  const sent = await sendSavedTap(cara.browser, {
    action: 'sign-out',
    at: caraLeftAt,
    sentAt: ctx.clock.now(),
    key: 'cara-0910',
  })
  assert.equal(sent.json().applied, true, sent.json().message)
  await page.waitForFunction(() => document.querySelector('.tally .unaccounted .count')?.textContent === '1')
  assert.equal(
    await page.textContent(`#left ~ ul #p-${cara.id} [data-signed-out]`),
    'Left before the alarm — signed out 09:10, reached the server late',
  )
  // A visitor arrives at the desk during the alarm and joins the list; reception then signs her
  // out: her line says so at once, and she still counts.
  ctx.clock.advance(60_000)
  await desk.browser.get('/reception/visitors/new')
  assert.equal(
    (await desk.browser.post('/reception/visitors', { name: 'Vera Visitor', host: 'Amy Clark' })).statusCode,
    303,
  )
  const vera = await ctx.app.ctx.db.selectFrom('visitor').select('id').executeTakeFirstOrThrow()
  await page.waitForFunction(() => document.querySelector('.tally .unaccounted .count')?.textContent === '2')
  await desk.browser.post(`/reception/visitors/${vera.id}/sign-out`)
  await page.waitForSelector(`#v-${vera.id} [data-signed-out]`)
  assert.equal(
    await page.textContent(`#v-${vera.id} [data-signed-out]`),
    'Signed out at 09:18, during the alarm',
  )
  assert.equal(await notAccountedFor(), '2', 'leaving is no proof she reached the assembly point')
  assert.equal(page.url(), url, 'all without reloading')
  assert.deepEqual(await accessibilityProblems(page), [], 'roll call')
  await page.goto(`${origin}/reception/display`)
  assert.deepEqual(await accessibilityProblems(page), [], 'display')
  await page.goto(`${origin}/reception/broadcasts/new?template=drill`)
  assert.deepEqual(await accessibilityProblems(page), [], 'new message')
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('axe')))
  assert.deepEqual(problems, [], 'no script errors or CSP violations')
})
