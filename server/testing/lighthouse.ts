import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import lighthouse, { type Flags, type Result } from 'lighthouse'
import { type BrowserContext, chromium } from 'playwright-core'
import { chromiumArgs, chromiumPath, requireChromium } from './chromium.js'
import { eventually } from './eventually.js'

/** What one Lighthouse run found on a page: category scores (0–100) and the audits we check. */
export interface LighthouseReport {
  url: string
  scores: Record<string, number>
  /** Total blocking time in ms (simulated mid-range phone: 4× CPU slowdown, slow 4G). */
  tbt: number
  /** Main-thread work in ms, as Lighthouse's "minimize main-thread work" reports it. */
  mainThread: number
  /** Audits that did not pass (score below 1, or below 0.9 for the metric audits), with their titles. */
  failing: { id: string; title: string; score: number | null; value?: string }[]
  lhr: Result
}

/**
 * Audits whose result is a duration on this machine (its CPU and load), not a property of the page:
 * the metrics and the main-thread breakdowns. The rest (layout shift included) are the page's own.
 */
export const timingAudits = new Set([
  'first-contentful-paint',
  'largest-contentful-paint',
  'total-blocking-time',
  'speed-index',
  'interactive',
  'max-potential-fid',
  'mainthread-work-breakdown',
  'bootup-time',
  'long-tasks',
  'server-response-time',
])

/** Lighthouse's categories, as named in its report. */
export const categories = ['performance', 'accessibility', 'best-practices', 'seo'] as const

/** A Chromium for Lighthouse: its DevTools port, a Playwright handle on it, and how to stop it. */
export interface LighthouseBrowser {
  port: number
  /** The browser's default context: Lighthouse opens its tabs here, so cookies added to it are sent. */
  context: BrowserContext
  close(): Promise<void>
}

/**
 * Starts Debian's Chromium with a throwaway profile and a DevTools port. Not through Playwright's
 * launcher: its default flags switch off the back/forward cache, which Lighthouse audits.
 */
export async function launchForLighthouse(): Promise<LighthouseBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'register-lighthouse-'))
  const child = spawn(
    requireChromium(),
    [...chromiumArgs, '--remote-debugging-port=0', `--user-data-dir=${dir}`, '--no-first-run', 'about:blank'],
    // Its own process group, so that closing it stops its helper processes too (they write to the
    // profile folder until they exit; the folder is removed after).
    { stdio: 'ignore', detached: true },
  )
  const port = await devToolsPort(dir, child)
  const browser = await chromium.connectOverCDP(`http://127.0.0.1:${port}`)
  return {
    port,
    context: browser.contexts()[0]!,
    async close() {
      await browser.close().catch(() => {})
      const exited = new Promise((resolve) => child.once('exit', resolve))
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGTERM')
      await exited
      await groupGone(child.pid!)
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 })
    },
  }
}

/** Waits (5 s at most) until no process of the group `pgid` is left, then kills what remains. */
async function groupGone(pgid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0)
      return true
    } catch {
      return false
    }
  }
  await eventually(() => !alive(), `Chromium's process group ${pgid} to exit`, 5000).catch(() => {
    if (alive()) process.kill(-pgid, 'SIGKILL')
  })
}

async function devToolsPort(dir: string, child: ChildProcess): Promise<number> {
  for (let i = 0; i < 300 && child.exitCode === null; i++) {
    try {
      const port = Number(readFileSync(join(dir, 'DevToolsActivePort'), 'utf8').split('\n')[0])
      if (port > 0) return port
    } catch {}
    await delay(50)
  }
  child.kill()
  throw new Error(`Chromium (${chromiumPath}) did not open its DevTools port`)
}

/** Lighthouse's runtime errors whose message is its "bad trace recording" (lh-error.js). */
const BAD_TRACE_RECORDING = new Set([
  'NO_TRACING_STARTED',
  'NO_RESOURCE_REQUEST',
  'NO_NAVSTART',
  'NO_DCL',
  'NO_FMP',
])

/**
 * Runs Lighthouse's default (mobile) audit on `url`: a Moto G Power-sized screen, simulated slow
 * 4G and 4× CPU slowdown, as in PageSpeed Insights.
 */
export async function runLighthouse(
  port: number,
  url: string,
  options: { only?: (typeof categories)[number][] } = {},
): Promise<LighthouseReport> {
  const flags: Flags = {
    port,
    output: 'json',
    logLevel: 'error',
    onlyCategories: options.only ? [...options.only] : [...categories],
  }
  let lhr: NonNullable<Awaited<ReturnType<typeof lighthouse>>>['lhr'] | undefined
  for (let attempt = 1; ; attempt++) {
    const result = await lighthouse(url, flags)
    if (!result) throw new Error(`Lighthouse gave no result for ${url}`)
    lhr = result.lhr
    // Lighthouse's own "bad trace recording" errors (its message: "Please run Lighthouse again")
    // say nothing about the page: Chromium's trace missed an event on a busy machine (CI's
    // rehearsal of 2026-12-02 met NO_NAVSTART). Run again, twice at most; any other error fails.
    if (!(lhr.runtimeError && BAD_TRACE_RECORDING.has(lhr.runtimeError.code) && attempt < 3)) break
    console.error(`Lighthouse: ${lhr.runtimeError.code} on ${url} (a bad trace recording); running it again`)
  }
  if (lhr.runtimeError) throw new Error(`Lighthouse: ${lhr.runtimeError.code} ${lhr.runtimeError.message}`)
  const scores: Record<string, number> = {}
  for (const [id, category] of Object.entries(lhr.categories))
    scores[id] = Math.round((category.score ?? 0) * 100)
  const failing: LighthouseReport['failing'] = []
  for (const category of Object.values(lhr.categories)) {
    for (const ref of category.auditRefs) {
      const audit = lhr.audits[ref.id]
      if (!audit || audit.scoreDisplayMode === 'notApplicable' || audit.scoreDisplayMode === 'manual')
        continue
      if (audit.scoreDisplayMode === 'informative' || audit.score === null) continue
      const pass = ref.group === 'metrics' ? (audit.score ?? 0) >= 0.9 : audit.score === 1
      if (!pass && !failing.some((f) => f.id === ref.id))
        failing.push({ id: ref.id, title: audit.title, score: audit.score, value: audit.displayValue })
    }
  }
  return {
    url,
    scores,
    tbt: lhr.audits['total-blocking-time']?.numericValue ?? Number.NaN,
    mainThread: lhr.audits['mainthread-work-breakdown']?.numericValue ?? Number.NaN,
    failing,
    lhr,
  }
}
