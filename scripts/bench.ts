import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { projectRoot } from '../server/paths.js'
import { seed } from './bench/seed.js'

/**
 * `npm run bench [-- --quick]`: measures the production build against a bare Fastify baseline
 * started in the same run, prints one table and writes bench/results.json. Figures are ratios to
 * the baseline so they survive a noisy machine.
 */
const quick = process.argv.includes('--quick')
const seconds = quick ? 3 : 10
const connections = 50
const PEOPLE = quick ? 3_000 : 5_000
const INSIDE = 2_000

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

function build(): void {
  const result = spawnSync('npm', ['run', 'build', '--silent'], { cwd: projectRoot, stdio: 'inherit' })
  if (result.status !== 0) throw new Error('build failed')
}

function startBaseline(): Promise<{ url: string; child: ChildProcess }> {
  const child = fork(join(projectRoot, 'scripts', 'bench', 'hello.mjs'), { stdio: 'inherit' })
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ url: (m as { address: string }).address, child }))
    child.once('exit', (code) => reject(new Error(`baseline exited ${code}`)))
  })
}

async function startApp(dataDir: string, port: number): Promise<{ url: string; child: ChildProcess }> {
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, [join(projectRoot, 'dist', 'server', 'server.js')], {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: String(port),
      PUBLIC_URL: url,
      DATA_DIR: dataDir,
      SESSION_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
      RATE_LIMIT_PER_MINUTE: '1000000',
      LOG_LEVEL: 'warn',
    },
  })
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, child }
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('the app did not start')
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  return Number(line?.split(' ').at(-1) ?? Number.NaN)
}

async function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections, duration: seconds, ...options })
}

function freePort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000)
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits)

async function main(): Promise<void> {
  build()
  const dataDir = mkdtempSync(join(tmpdir(), 'br-bench-'))
  const rows: Row[] = []
  const children: ChildProcess[] = []
  try {
    const seeded = await seed(join(dataDir, 'register.db'), PEOPLE, INSIDE)
    const baseline = await startBaseline()
    children.push(baseline.child)
    const base = await load({ url: baseline.url })
    baseline.child.kill()
    rows.push({
      name: 'Baseline: Fastify hello-world',
      reqPerSec: base.requests.average,
      p50: base.latency.p50,
      p99: base.latency.p99,
      ratio: 1,
    })

    const app = await startApp(dataDir, freePort())
    children.push(app.child)
    const idleRss = await metric(app.url, 'process_resident_memory_bytes')

    // Taps: people outside (beyond the first INSIDE) alternate sign-in / sign-out, each request a real change.
    const tappers = seeded.tokens.slice(INSIDE)
    const inside = new Array<boolean>(tappers.length).fill(false)
    let next = 0
    const tap = await load({
      url: app.url,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const i = next++ % tappers.length
            const path = inside[i] ? '/api/v1/sign-out' : '/api/v1/sign-in'
            inside[i] = !inside[i]
            return {
              ...req,
              path,
              body: '{}',
              headers: {
                ...req.headers,
                'content-type': 'application/json',
                authorization: `Bearer ${tappers[i]}`,
              },
            }
          },
        },
      ],
    })
    const tapRatio = tap.requests.average / base.requests.average
    rows.push({
      name: 'Tap: POST sign-in/sign-out (bearer)',
      reqPerSec: tap.requests.average,
      p50: tap.latency.p50,
      p99: tap.latency.p99,
      ratio: tapRatio,
      note: `${tap['2xx']} ok, ${tap.non2xx} non-2xx ${JSON.stringify(tap.statusCodeStats)}`,
      target: '≥ 0.35×, p99 ≤ 20 ms',
      ok: tapRatio >= 0.35 && tap.latency.p99 <= 20 && tap.non2xx === 0,
    })

    let cookieNext = 0
    const home = await load({
      url: app.url,
      requests: [
        {
          method: 'GET',
          path: '/',
          setupRequest: (req) => ({
            ...req,
            headers: {
              ...req.headers,
              cookie: `br_device=${seeded.tokens[cookieNext++ % seeded.tokens.length]}`,
            },
          }),
        },
      ],
    })
    const homeRatio = home.requests.average / base.requests.average
    rows.push({
      name: 'Home page: GET / (device cookie)',
      reqPerSec: home.requests.average,
      p50: home.latency.p50,
      p99: home.latency.p99,
      ratio: homeRatio,
      note: `${home['2xx']} ok, ${home.non2xx} non-2xx`,
      target: '≥ 0.35×',
      ok: homeRatio >= 0.35 && home.non2xx === 0,
    })

    const afterRss = await metric(app.url, 'process_resident_memory_bytes')
    rows.push({
      name: 'Memory: web RSS idle → after runs',
      note: `${fmt(idleRss / 2 ** 20)} MB → ${fmt(afterRss / 2 ** 20)} MB`,
      target: 'idle ≤ 120 MB',
      ok: idleRss <= 120 * 2 ** 20,
    })
  } finally {
    for (const child of children) child.kill()
    rmSync(dataDir, { recursive: true, force: true })
  }

  const header = ['Benchmark', 'req/s', 'p50 ms', 'p99 ms', '× baseline', 'target', 'met', 'notes']
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
