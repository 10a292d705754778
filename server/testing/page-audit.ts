import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { BrowserContext, Page } from 'playwright-core'

const auditSource = readFileSync(new URL('./page-audit.browser.js', import.meta.url), 'utf8')
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js')

/**
 * Makes axe-core available in every page of the context. Chromium runs it as each document
 * starts, outside the page's CSP, and does not need the 500 KB sent again for each page.
 */
export async function prepareAudit(context: BrowserContext): Promise<void> {
  await context.addInitScript({ path: axePath })
}

/**
 * What a person would notice on the page as shown now: text below WCAG AA contrast (every visible
 * text, buttons and links included, against the colours actually behind it), controls with no
 * accessible name, radios and checkboxes drawn as big boxes or far from their labels, and
 * horizontal overflow. One line per problem.
 */
export async function visualProblems(page: Page): Promise<string[]> {
  // Evaluated through the debugger, so the page's strict CSP stays on for everything else.
  return (await page.evaluate(auditSource)) as string[]
}

/**
 * WCAG 2.x A/AA violations axe-core finds on the current page (after prepareAudit), as
 * "rule: target" lines. Its colour-contrast rule is left to visualProblems, which checks every
 * text in both colour schemes and, unlike axe, caught the invisible Install button.
 */
export async function axeProblems(page: Page): Promise<string[]> {
  const result = (await page.evaluate(
    `axe.run(document, {
      runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa', 'best-practice'],
      rules: { 'color-contrast': { enabled: false } },
    })`,
  )) as { violations: { id: string; nodes: { target: string[] }[] }[] }
  return result.violations.flatMap((v) => v.nodes.map((n) => `axe ${v.id}: ${n.target.join(' ')}`))
}
