import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import autocannon from 'autocannon'
import { projectRoot } from '../server/paths.js'
import { seed } from './bench/seed.js'
import {
  benchEnv,
  downloadVisitsCsv,
  homeRequests,
  tapRequests,
  waitUntilHealthy,
  webNodeFlags,
} from './bench/web-process.js'

/**
 * `npm run bench [-- --quick]`: measures the production build against a bare Fastify baseline
 * started in the same run, prints one table and writes bench/results.json. Throughput figures are
 * ratios to the baseline so they survive a noisy machine.
 */
const quick = process.argv.includes('--quick')
const seconds = quick ? 3 : 10
const connections = 50
const PEOPLE = quick ? 3_000 : 5_000
const INSIDE = 2_000
const EXPORT_ROWS = quick ? 100_000 : 1_000_000
const PURGE_ROWS = quick ? 100_000 : 1_000_000

interface Row {
  name: string
  reqPerSec?: number
  p50?: number
  p99?: number
  ratio?: number
  note?: string
  target?: string
  ok?: boolean
}

const MB = 2 ** 20
const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits)

function build(): void {
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: projectRoot, stdio: 'inherit' })
  if (result.status !== 0) throw new Error('build failed')
}

/** Forks one of the reference servers in scripts/bench/, which reports the address it listens on. */
function startReference(
  file: 'hello.mjs' | 'tap-floor.mjs',
  env: NodeJS.ProcessEnv = {},
): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(join(projectRoot, 'scripts', 'bench', file), {
    stdio: 'inherit',
    env: { ...process.env, ...env },
  })
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ url: (m as { address: string }).address, child }))
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)))
  })
}

let nextPort = 20_000 + Math.floor(Math.random() * 20_000)

async function startApp(dataDir: string): Promise<{ url: string; child: ChildProcess }> {
  const port = nextPort++
  const url = `http://127.0.0.1:${port}`
  // Exactly as the Procfile starts it (its node flags are read from the Procfile).
  const child = spawn(
    process.execPath,
    [...webNodeFlags(), join(projectRoot, 'dist', 'server', 'server.js')],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: benchEnv(dataDir, port),
    },
  )
  await waitUntilHealthy(url)
  return { url, child }
}

async function eventLoopP99Ms(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith('nodejs_eventloop_delay_seconds{quantile="0.99"}'))
  return Number(line?.split(' ').at(-1)) * 1000
}

/** A process's resident memory now (Linux VmRSS) or its peak so far (VmHWM). */
function rss(pid: number, which: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${which}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN) * 1024
}

/**
 * The web process's idle memory. V8 keeps start-up's garbage until its memory reducer runs, 8 s
 * after the process goes quiet or, when that first check finds it busy, 16 s (measured on six
 * start-ups: 116–122 MB until then, 92–99 MB after, flat to the end of 25 s). Polls until the reading
 * has fallen below start-up's and held for 2 s, or 30 s have passed since start-up without requests.
 */
async function idleRss(
  pid: number,
  startedAt: number,
  startRss: number,
): Promise<{ bytes: number; seconds: number }> {
  for (let held = 0; ; await delay(500)) {
    const bytes = rss(pid, 'VmRSS')
    held = bytes < startRss * 0.9 ? held + 1 : 0
    const seconds = (performance.now() - startedAt) / 1000
    if (held >= 4 || seconds >= 30) return { bytes, seconds }
  }
}

function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections, duration: seconds, ...options })
}

/** A table row for a load run: req/s, latencies and the ratio to the baseline run. */
function throughputRow(
  name: string,
  r: autocannon.Result,
  base: autocannon.Result,
  target?: string,
  p99Max?: number,
): Row {
  const ratio = r.requests.average / base.requests.average
  return {
    name,
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ratio,
    note: `${r['2xx']} ok, ${r.non2xx} non-2xx`,
    target,
    ok: target
      ? ratio >= 0.35 && (p99Max === undefined || r.latency.p99 <= p99Max) && r.non2xx === 0
      : undefined,
  }
}

async function main(): Promise<void> {
  build()
  const rows: Row[] = []
  const children: ChildProcess[] = []
  const dirs: string[] = []
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'br-bench-'))
    dirs.push(d)
    return d
  }
  try {
    // Main database: staff with tokens, 2,000 of them inside, and rows past retention for the purge.
    // The app starts first and sits idle while the reference servers run, for the idle memory reading.
    const mainDir = tempDir()
    const seeded = await seed(join(mainDir, 'register.db'), {
      people: PEOPLE,
      inside: INSIDE,
      oldVisits: PURGE_ROWS,
      oldDaysFrom: 120,
      oldDaysTo: 480,
    })
    const app = await startApp(mainDir)
    children.push(app.child)
    const startedAt = performance.now()
    const startRss = rss(app.child.pid!, 'VmRSS')

    // 1. Baseline.
    const baseline = await startReference('hello.mjs')
    children.push(baseline.child)
    const base = await load({ url: baseline.url })
    baseline.child.kill()
    rows.push({
      name: '1. Baseline: Fastify hello-world',
      reqPerSec: base.requests.average,
      p50: base.latency.p50,
      p99: base.latency.p99,
      ratio: 1,
    })

    // 1b. The floor for taps: only a tap's SQL behind a bare Fastify, on its own copy of the people.
    const floorDir = tempDir()
    const floorSeed = await seed(join(floorDir, 'register.db'), { people: PEOPLE, inside: INSIDE })
    const floorServer = await startReference('tap-floor.mjs', {
      FLOOR_DATABASE: join(floorDir, 'register.db'),
    })
    children.push(floorServer.child)
    const floor = await load({ url: floorServer.url, requests: tapRequests(floorSeed.tokens.slice(INSIDE)) })
    floorServer.child.kill()
    rows.push({
      ...throughputRow('1b. Floor: a tap’s SQL behind bare Fastify', floor, base),
      note: `no headers, limits, session, auth plugin or query builder; ${floor['2xx']} ok, ${floor.non2xx} non-2xx`,
    })

    const idle = await idleRss(app.child.pid!, startedAt, startRss)
    const tappers = seeded.tokens.slice(INSIDE)

    // 4. Presence with exactly 2,000 inside, measured before the taps change who is in
    //    (the admin's token; admin includes reception).
    const presenceCount = (await (
      await fetch(`${app.url}/api/v1/presence`, { headers: { authorization: `Bearer ${seeded.tokens[0]}` } })
    ).json()) as { count: number }
    const presence = await load({
      url: `${app.url}/api/v1/presence`,
      headers: { authorization: `Bearer ${seeded.tokens[0]}` },
    })
    rows.push({
      ...throughputRow('4. Presence: GET /api/v1/presence', presence, base),
      target: 'p99 ≤ 25 ms',
      ok: presence.latency.p99 <= 25 && presence.non2xx === 0 && presenceCount.count >= INSIDE,
      note: `${presenceCount.count} inside; ${presence['2xx']} ok, ${presence.non2xx} non-2xx`,
    })
    // Reception screens are browsers, and browsers (and fetch) always ask for gzip: ~10× fewer bytes.
    const presenceGzip = await load({
      url: `${app.url}/api/v1/presence`,
      headers: { authorization: `Bearer ${seeded.tokens[0]}`, 'accept-encoding': 'gzip, deflate, br' },
    })
    rows.push({
      ...throughputRow('4b. Presence, as browsers ask (gzip)', presenceGzip, base),
      target: 'p99 ≤ 25 ms',
      ok: presenceGzip.latency.p99 <= 25 && presenceGzip.non2xx === 0,
      note: `${presenceGzip['2xx']} ok, ${presenceGzip.non2xx} non-2xx`,
    })

    // 2. Taps.
    const tap = await load({ url: app.url, requests: tapRequests(tappers) })
    const tapRow = throughputRow('2. Tap: POST sign-in/sign-out', tap, base, '≥ 0.35×, p99 ≤ 20 ms', 20)
    tapRow.note += `; ${(tap.requests.average / floor.requests.average).toFixed(2)}× the floor`
    rows.push(tapRow)

    // 3. Home page with a device cookie.
    const home = await load({ url: app.url, requests: homeRequests(seeded.tokens) })
    rows.push(throughputRow('3. Home page: GET / (cookie)', home, base, '≥ 0.35×'))

    // 6. Purge of rows past retention while taps run (the purge as the CLI/worker runs it).
    const before = await load({
      url: app.url,
      requests: tapRequests(tappers),
      duration: Math.max(2, seconds / 2),
    })
    await eventLoopP99Ms(app.url) // resets the histogram
    const purgeStarted = Date.now()
    const purgeChild = spawn(process.execPath, [join(projectRoot, 'dist', 'scripts', 'purge.js')], {
      cwd: projectRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: benchEnv(mainDir, 0),
    })
    children.push(purgeChild)
    let during: autocannon.Result | undefined
    const instance = autocannon(
      { url: app.url, connections, duration: 600, requests: tapRequests(tappers) },
      (_err, result) => {
        during = result
      },
    )
    const purgeCode = await new Promise<number | null>((resolve) => purgeChild.once('exit', resolve))
    const purgeMs = Date.now() - purgeStarted
    const loopP99 = await eventLoopP99Ms(app.url)
    instance.stop()
    while (!during) await new Promise((r) => setTimeout(r, 50))
    const duringRatio = during.requests.average / before.requests.average
    rows.push({
      name: `6. Purge ${PURGE_ROWS.toLocaleString('en-GB')} rows during taps`,
      reqPerSec: during.requests.average,
      p50: during.latency.p50,
      p99: during.latency.p99,
      ratio: duringRatio,
      note: `purge ${(purgeMs / 1000).toFixed(1)} s (exit ${purgeCode}); web event-loop p99 ${loopP99.toFixed(1)} ms; taps before ${fmt(before.requests.average)}/s; ratio = during/before`,
      target: 'loop p99 ≤ 50 ms, taps ≥ 0.7× before',
      ok: purgeCode === 0 && loopP99 <= 50 && duringRatio >= 0.7,
    })

    const afterRss = rss(app.child.pid!, 'VmRSS')
    app.child.kill()

    // 5. Export: a fresh web process and a database with a year of visits.
    const exportDir = tempDir()
    const exportSeed = await seed(join(exportDir, 'register.db'), {
      people: 1_000,
      inside: 0,
      oldVisits: EXPORT_ROWS,
      oldDaysFrom: 1,
      oldDaysTo: 360,
    })
    const exporter = await startApp(exportDir)
    children.push(exporter.child)
    const csv = await downloadVisitsCsv(exporter.url, exportSeed.tokens[0]!)
    const rowsPerSec = csv.rows / csv.seconds
    const exportPeak = rss(exporter.child.pid!, 'VmHWM')
    rows.push({
      name: `5. Export CSV of ${EXPORT_ROWS.toLocaleString('en-GB')} visits`,
      note: `${fmt(rowsPerSec)} rows/s (${csv.rows} rows, ${fmt(csv.bytes / MB, 1)} MB in ${csv.seconds.toFixed(1)} s); peak RSS ${fmt(exportPeak / MB)} MB`,
      target: '≥ 200,000 rows/s, peak RSS ≤ 200 MB',
      ok: csv.status === 200 && csv.rows === EXPORT_ROWS && rowsPerSec >= 200_000 && exportPeak <= 200 * MB,
    })
    exporter.child.kill()

    rows.push({
      name: '7. Memory: web RSS idle → after runs',
      note: `${fmt(idle.bytes / MB)} MB → ${fmt(afterRss / MB)} MB (${fmt(startRss / MB)} MB just after start-up, idle ${fmt(idle.seconds)} s later)`,
      target: 'idle ≤ 120 MB',
      ok: idle.bytes <= 120 * MB,
    })
  } finally {
    for (const child of children) child.kill()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }

  rows.sort((a, b) => a.name.localeCompare(b.name))
  const header = ['Benchmark', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'target', 'met', 'notes']
  const table = rows.map((r) => [
    r.name,
    fmt(r.reqPerSec),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.target ?? '',
    r.ok === undefined ? '' : r.ok ? 'yes' : 'NO',
    r.note ?? '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}`)
  for (const row of table) console.log(line(row))
  mkdirSync(join(projectRoot, 'bench'), { recursive: true })
  const results = { date: new Date().toISOString(), quick, seconds, connections, node: process.version, rows }
  writeFileSync(join(projectRoot, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  console.log('\nWritten to bench/results.json')
}

await main()
