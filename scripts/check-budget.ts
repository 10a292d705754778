import { existsSync } from 'node:fs'
import { gzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../server/app.js'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { buildServiceWorker, serviceWorkerPath } from '../server/pwa/build-service-worker.js'
import { loginAs, type TestApp, TestClock, testConfig } from '../server/testing/build-test-app.js'

/** The home page's first-load budget: every byte the browser fetches, gzip-compressed. */
export const BUDGET_BYTES = 50 * 1024

/** One fetched resource and its size. */
export interface BudgetFile {
  url: string
  why: string
  raw: number
  gzip: number
}

/** The measurement: files, totals, and anything that breaks the rules. */
export interface BudgetReport {
  files: BudgetFile[]
  totalRaw: number
  totalGzip: number
  problems: string[]
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of tag.matchAll(/([a-zA-Z-]+)(?:="([^"]*)")?/g)) out[m[1]!.toLowerCase()] = m[2] ?? ''
  return out
}

/**
 * Loads the signed-in home page like a first-time visitor's browser would — the HTML, what it
 * links (CSS, scripts, icons, manifest and the manifest's icons), the service worker and
 * everything it precaches — and measures the gzip size of each.
 */
export async function measureHomePage(): Promise<BudgetReport> {
  if (!existsSync(serviceWorkerPath)) await buildServiceWorker()
  const outbox: string[] = []
  const clock = new TestClock()
  const config = testConfig()
  const app: FastifyInstance = await buildApp(config, {
    clock,
    logger: false,
    channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
  })
  try {
    const test: TestApp = {
      app,
      clock,
      config,
      outbox,
      lastCode(contact) {
        const line = outbox.findLast((l) => l.startsWith(`message to ${contact} `))
        return /is (\d{6})/.exec(line ?? '')?.[1] ?? ''
      },
    }
    const browser = await loginAs(test, 'budget@example.org')
    const problems: string[] = []
    const files: BudgetFile[] = []
    const seen = new Set<string>()
    const fetchOne = async (url: string, why: string): Promise<string> => {
      if (seen.has(url)) return ''
      seen.add(url)
      const response = url === '/' ? await browser.get('/') : await app.inject({ url })
      if (response.statusCode !== 200) problems.push(`${url} answered ${response.statusCode}`)
      const body = response.rawPayload
      files.push({ url, why, raw: body.length, gzip: gzipSync(body, { level: 9 }).length })
      return body.toString('utf8')
    }

    const html = await fetchOne('/', 'page')
    const head = html.slice(0, html.indexOf('</head>'))
    for (const tag of html.match(/<(link|script|img)\b[^>]*>/g) ?? []) {
      const a = attributes(tag)
      const url = a.href ?? a.src
      if (!url) continue
      if (/^(https?:)?\/\//.test(url) && !url.startsWith(config.PUBLIC_URL)) {
        problems.push(`third-party resource: ${url}`)
        continue
      }
      if (tag.startsWith('<script') && head.includes(tag) && !('defer' in a) && !('async' in a)) {
        problems.push(`render-blocking script: ${url}`)
      }
      if (a.rel === 'apple-touch-icon') continue // fetched by iOS only when adding to the home screen
      const body = await fetchOne(url, tag.startsWith('<script') ? 'script' : (a.rel ?? 'link'))
      if (a.rel === 'manifest') {
        for (const icon of (JSON.parse(body) as { icons: { src: string }[] }).icons) {
          await fetchOne(icon.src, 'manifest icon')
        }
      }
    }
    const sw = await fetchOne('/sw.js', 'service worker')
    for (const m of sw.matchAll(/importScripts\(([^)]*)\)/g)) {
      for (const u of m[1]!.matchAll(/"([^"]+)"/g)) await fetchOne(u[1]!, 'sw import')
    }
    for (const m of sw.matchAll(/url:"([^"]+)"/g)) await fetchOne(m[1]!, 'precache')

    const totalRaw = files.reduce((n, f) => n + f.raw, 0)
    const totalGzip = files.reduce((n, f) => n + f.gzip, 0)
    if (totalGzip > BUDGET_BYTES) {
      problems.push(`first load is ${totalGzip} bytes gzipped, over the ${BUDGET_BYTES} byte budget`)
    }
    return { files, totalRaw, totalGzip, problems }
  } finally {
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await measureHomePage()
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
  for (const f of report.files) {
    console.log(
      `${f.url.padEnd(36)} ${f.why.padEnd(16)} ${kb(f.raw).padStart(9)} ${kb(f.gzip).padStart(9)} gz`,
    )
  }
  console.log(
    `${'total'.padEnd(53)} ${kb(report.totalRaw).padStart(9)} ${kb(report.totalGzip).padStart(9)} gz (budget ${kb(BUDGET_BYTES)})`,
  )
  for (const p of report.problems) console.error(`BUDGET: ${p}`)
  process.exitCode = report.problems.length ? 1 : 0
}
