import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import {
  benchEnv,
  downloadVisitsCsv,
  homeRequests,
  tapRequests,
  waitUntilHealthy,
  webNodeFlags,
} from './web-process.js'
import { seed } from './seed.js'

/**
 * `tsx scripts/bench/profile.ts tap|home|presence|presence-gzip|healthz|export [--no-prof]`: runs
 * the production server under one load for PROF_SECONDS (default 5) and CPU-profiles it (writes
 * /tmp/prof/*.cpuprofile). `healthz` measures what every route pays: the global hooks (headers,
 * rate limit, session, compression) and one trivial query. `export` downloads a CSV of
 * EXPORT_ROWS (default 300,000) visits three times instead.
 */
const probes = ['tap', 'home', 'presence', 'presence-gzip', 'healthz', 'export']
const which = process.argv[2] ?? 'tap'
if (!probes.includes(which)) throw new Error(`unknown probe ${which}: ${probes.join('|')}`)
const profile = !process.argv.includes('--no-prof')
const dir = mkdtempSync(join(tmpdir(), 'br-prof-'))
const exportRows = Number(process.env.EXPORT_ROWS ?? 300_000)
const s = await seed(
  join(dir, 'register.db'),
  which === 'export'
    ? { people: 1000, inside: 0, oldVisits: exportRows, oldDaysFrom: 1, oldDaysTo: 360 }
    : { people: 3000, inside: 2000 },
)
const port = 24567
const flags = profile ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []
const child = spawn(process.execPath, [...flags, ...webNodeFlags(), 'dist/server/server.js'], {
  stdio: 'inherit',
  env: benchEnv(dir, port),
})
await waitUntilHealthy(`http://127.0.0.1:${port}`)
const tokens = which === 'tap' ? s.tokens.slice(2000) : s.tokens
const probe = (path: string, headers: Record<string, string> = {}): autocannon.Request[] => [
  { method: 'GET', setupRequest: (req) => ({ ...req, path, headers: { ...req.headers, ...headers } }) },
]
const requests: Record<string, () => autocannon.Request[]> = {
  tap: () => tapRequests(tokens),
  healthz: () => probe('/healthz'),
  presence: () => probe('/api/v1/presence', { authorization: `Bearer ${tokens[0]}` }),
  'presence-gzip': () =>
    probe('/api/v1/presence', { authorization: `Bearer ${tokens[0]}`, 'accept-encoding': 'gzip, deflate, br' }),
  home: () => homeRequests(tokens),
}
if (which === 'export') {
  for (let i = 0; i < 3; i++) {
    const csv = await downloadVisitsCsv(`http://127.0.0.1:${port}`, s.tokens[0]!)
    console.log('export', csv.rows, 'rows,', Math.round(csv.rows / csv.seconds), 'rows/s')
  }
} else {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: 50,
    duration: Number(process.env.PROF_SECONDS ?? 5),
    requests: requests[which]!(),
  })
  console.log(which, result.requests.average, 'req/s; p50', result.latency.p50, 'p99', result.latency.p99, 'non2xx', result.non2xx)
}
child.kill('SIGINT')
await new Promise((r) => child.once('exit', r))
