import assert from 'node:assert/strict'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import type { BrowserContext, Page } from 'playwright-core'
import { projectRoot } from '../paths.js'
import { buildTestApp } from '../testing/build-test-app.js'
import { launchChromium } from '../testing/chromium.js'
import { axeProblems, prepareAudit, visualProblems } from '../testing/page-audit.js'
import { pagesToSee } from '../testing/pages.js'
import { deviceCookie, seedShowcase, type Viewer } from '../testing/showcase.js'
import { testDialect } from '../testing/test-database.js'

const sizes = [
  { width: 390, height: 844 },
  { width: 320, height: 640 },
  { width: 1366, height: 768 },
] as const
const schemes = ['light', 'dark'] as const
/** Screenshots land here (git-ignored), one per page, size and scheme, for a person to look at. */
const out = join(projectRoot, 'test-results', 'pages')
/**
 * Taking them is 40% of this test. `npm test` takes them in its SQLite run only (TEST_SCREENSHOTS=0
 * in the PostgreSQL run, whose pages look the same and would overwrite them); every check runs in both.
 */
const screenshots = process.env.TEST_SCREENSHOTS !== '0'

test('every page at 390, 320 and 1366 px wide, light and dark: readable, labelled, no sideways scroll, no axe violations', async (t) => {
  if (screenshots) rmSync(out, { recursive: true, force: true })
  mkdirSync(out, { recursive: true })
  // One organisation sign-in provider, for its button on the login page and its refusal page
  // (the provider itself is never contacted).
  const ctx = await buildTestApp(t, {
    env: {
      SSO_1_TYPE: 'entra',
      SSO_1_TENANT: '8eaef023-2b34-4da1-9baa-8bc8c9d6a490',
      SSO_1_CLIENT_ID: 'register',
      SSO_1_CLIENT_SECRET: 'secret',
    },
  })
  const showcase = await seedShowcase(ctx)
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const origin = `http://127.0.0.1:${(ctx.app.server.address() as AddressInfo).port}`
  const browser = await launchChromium()
  t.after(() => browser.close())

  // One tab per viewer, reused from page to page (opening tabs is the slow part of a browser test).
  const tabs = new Map<Viewer, { context: BrowserContext; page: Page; errors: string[] }>()
  const tabFor = async (viewer: Viewer) => {
    let tab = tabs.get(viewer)
    if (!tab) {
      const context = await browser.newContext()
      await prepareAudit(context)
      if (viewer === 'kiosk')
        await context.addCookies([
          { name: 'br_kiosk', value: showcase.kioskToken, domain: '127.0.0.1', path: '/kiosk' },
        ])
      else if (viewer !== 'anon')
        await context.addCookies([
          { name: 'br_device', value: deviceCookie(showcase.browsers[viewer]), url: origin },
        ])
      const page = await context.newPage()
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      tab = { context, page, errors }
      tabs.set(viewer, tab)
    }
    // Someone not signed in starts each page afresh, so one flow's session cannot leak into the next.
    if (viewer === 'anon') await tab.context.clearCookies()
    return tab
  }

  const problems: string[] = []
  // PAGES=login,profile looks at those pages only, while working on them.
  const only = process.env.PAGES?.split(',')
  for (const spec of pagesToSee.filter((p) => !only || only.includes(p.name))) {
    const started = Date.now()
    const { page, errors } = await tabFor(spec.as)
    errors.length = 0
    await page.emulateMedia({ colorScheme: 'light' })
    await page.setViewportSize(sizes[0])
    const path = typeof spec.path === 'string' ? spec.path : spec.path(showcase)
    const status = (await page.goto(`${origin}${path}`))?.status()
    if (status !== (spec.status ?? 200)) {
      problems.push(`${spec.name}: ${path} answered ${status}`)
      continue
    }
    if (spec.act) await spec.act(page, ctx)
    for (const problem of await axeProblems(page)) problems.push(`${spec.name}: ${problem}`)
    // Sizes and schemes change on the same page: a form's errors stay shown, and no code is re-sent.
    for (const scheme of schemes) {
      await page.emulateMedia({ colorScheme: scheme })
      for (const size of sizes) {
        await page.setViewportSize(size)
        const where = `${spec.name} ${size.width}px ${scheme}`
        for (const problem of await visualProblems(page)) problems.push(`${where}: ${problem}`)
        if (screenshots)
          await page.screenshot({
            path: join(out, `${spec.name}-${size.width}-${scheme}.png`),
            fullPage: true,
          })
      }
    }
    for (const error of errors) problems.push(`${spec.name}: script error: ${error}`)
    t.diagnostic(`${spec.name}: ${Date.now() - started} ms`)
  }
  const found = join(out, `problems-${testDialect}.txt`)
  writeFileSync(found, problems.join('\n'))
  assert.deepEqual(problems, [], `screenshots in ${out}, problems in ${found}`)
})
