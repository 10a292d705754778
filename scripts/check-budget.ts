import { existsSync } from 'node:fs'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../server/app.js'
import { consoleChannel } from '../server/messaging/console.channel.js'
import { buildServiceWorker, serviceWorkerPath } from '../server/pwa/build-service-worker.js'
import { loginAs, type TestApp, TestClock, testConfig } from '../server/testing/build-test-app.js'

/** The home page's first-load budget: every byte the browser fetches, as the server sends it (compressed). */
export const BUDGET_BYTES = 50 * 1024

/** One fetched resource and its size. */
export interface BudgetFile {
  url: string
  why: string
  raw: number
  /** Bytes on the wire: the body as sent with `Accept-Encoding: br, gzip`. */
  transferred: number
  encoding: string
}

/** The measurement: files, totals, and anything that breaks the rules. */
export interface BudgetReport {
  files: BudgetFile[]
  totalRaw: number
  totalTransferred: number
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
 * everything it precaches — and measures what the server actually sends for each.
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
      // A fingerprinted URL (?v=…) and the service worker's plain one are the same file.
      const path = url.split('?')[0]!
      if (seen.has(path)) return ''
      seen.add(path)
      const headers = { 'accept-encoding': 'br, gzip' }
      const response =
        url === '/'
          ? await browser.request({ method: 'GET', url, headers })
          : await app.inject({ url, headers })
      if (response.statusCode !== 200) problems.push(`${url} answered ${response.statusCode}`)
      const sent = response.rawPayload
      const encoding = String(response.headers['content-encoding'] ?? 'identity')
      const body =
        encoding === 'br' ? brotliDecompressSync(sent) : encoding === 'gzip' ? gunzipSync(sent) : sent
      files.push({ url: path, why, raw: body.length, transferred: sent.length, encoding })
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
    const totalTransferred = files.reduce((n, f) => n + f.transferred, 0)
    if (totalTransferred > BUDGET_BYTES) {
      problems.push(`first load transfers ${totalTransferred} bytes, over the ${BUDGET_BYTES} byte budget`)
    }
    return { files, totalRaw, totalTransferred, problems }
  } finally {
    await app.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const report = await measureHomePage()
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`
  for (const f of report.files) {
    console.log(
      `${f.url.padEnd(36)} ${f.why.padEnd(16)} ${kb(f.raw).padStart(9)} ${kb(f.transferred).padStart(9)} ${f.encoding}`,
    )
  }
  console.log(
    `${'total'.padEnd(53)} ${kb(report.totalRaw).padStart(9)} ${kb(report.totalTransferred).padStart(9)} sent (budget ${kb(BUDGET_BYTES)})`,
  )
  for (const p of report.problems) console.error(`BUDGET: ${p}`)
  process.exitCode = report.problems.length ? 1 : 0
}
