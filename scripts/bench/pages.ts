import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import SQLite from 'better-sqlite3'
import { launchForLighthouse, runLighthouse } from '../../server/testing/lighthouse.js'

/** Marks every device as last used long ago, as a person's first page of the day finds it. */
export async function staleDevices(sqliteFile: string): Promise<void> {
  const sqlite = new SQLite(sqliteFile)
  try {
    sqlite.pragma('busy_timeout = 5000')
    sqlite.prepare('update device set last_used_at = 0').run()
  } finally {
    sqlite.close()
  }
}

const sessionCookiesIn = (response: Response) =>
  response.headers.getSetCookie().filter((c) => c.startsWith('br_session='))

/**
 * The home page with only the device cookie (a session must start: one br_session cookie), then
 * again with the session it got (nothing changed: no br_session cookie). Counts both.
 */
export async function sessionCookieCheck(url: string, token: string): Promise<{ first: number; again: number }> {
  const first = await fetch(`${url}/`, { headers: { cookie: `br_device=${token}` }, redirect: 'manual' })
  const set = sessionCookiesIn(first)
  const session = set[0]?.split(';')[0] ?? ''
  const again = await fetch(`${url}/`, { headers: { cookie: `br_device=${token}; ${session}` }, redirect: 'manual' })
  if (first.status !== 200 || again.status !== 200) throw new Error(`home page answered ${first.status}, ${again.status}`)
  return { first: set.length, again: sessionCookiesIn(again).length }
}

/** Lighthouse's limit on total blocking time for the staff pages (issue 21). */
/** Issue 20's thresholds for every staff page, on Lighthouse's mobile audit. */
const TBT_BELOW_MS = 100
const PERFORMANCE_MIN = 98

/**
 * Lighthouse's mobile audit (4× CPU slowdown, slow 4G) of every staff page — login, the home page
 * of someone in and of someone out, "Your visits", the profile — against the running app at `url`
 * (`inside` and `outside` are device tokens): one row each, total blocking time and performance
 * against their targets, with the main-thread work beside them and an empty page as the baseline.
 */
export async function lighthouseRows(
  url: string,
  tokens: { inside: string; outside: string },
): Promise<{ name: string; note: string; target: string; ok: boolean | undefined }[]> {
  // The baseline: an empty page from a bare server, audited in the same browser. Its blocking time
  // is the machine's (Lighthouse multiplies every task by 4, others' load included), not a page's.
  const empty = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end('<!doctype html><html lang="en"><title>Empty</title><p>Empty page</p></html>')
  })
  await new Promise<void>((resolve) => empty.listen(0, '127.0.0.1', resolve))
  // Closed whatever happens: a browser that failed to start must not keep the bench from exiting.
  let browser: Awaited<ReturnType<typeof launchForLighthouse>> | undefined
  try {
    browser = await launchForLighthouse()
    const rows = []
    const baseline = await runLighthouse(browser.port, `http://127.0.0.1:${(empty.address() as AddressInfo).port}/`, {
      only: ['performance'],
    })
    rows.push({
      name: '10. Lighthouse mobile: baseline, an empty page',
      note: `TBT ${Math.round(baseline.tbt)} ms, main-thread work ${Math.round(baseline.mainThread)} ms: the machine's share`,
      target: '',
      ok: undefined,
    })
    for (const page of [
      { name: 'login', path: '/login', token: null },
      { name: 'signed-in home, in', path: '/', token: tokens.inside },
      { name: 'signed-in home, out', path: '/', token: tokens.outside },
      { name: 'your visits', path: '/history', token: tokens.inside },
      { name: 'profile', path: '/profile', token: tokens.inside },
    ]) {
      await browser.context.clearCookies()
      if (page.token) await browser.context.addCookies([{ name: 'br_device', value: page.token, url }])
      const report = await runLighthouse(browser.port, `${url}${page.path}`, { only: ['performance'] })
      const performance = report.scores.performance ?? 0
      rows.push({
        name: `10. Lighthouse mobile: ${page.name}`,
        note: `TBT ${Math.round(report.tbt)} ms (empty page ${Math.round(baseline.tbt)} ms), main-thread work ${Math.round(report.mainThread)} ms (empty page ${Math.round(baseline.mainThread)} ms), performance ${performance}`,
        target: `TBT < ${TBT_BELOW_MS} ms, perf. ≥ ${PERFORMANCE_MIN}`,
        ok: report.tbt < TBT_BELOW_MS && performance >= PERFORMANCE_MIN,
      })
    }
    return rows
  } finally {
    await browser?.close()
    empty.close()
  }
}
