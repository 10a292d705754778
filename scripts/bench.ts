import { type ChildProcess, fork, spawn, spawnSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import autocannon from 'autocannon'
import pg from 'pg'
import webPush from 'web-push'
import { projectRoot } from '../server/paths.js'
import { lighthouseRows, sessionCookieCheck, staleDevices } from './bench/pages.js'
import { benchPostgres } from './bench/postgres.js'
import { profileLoad } from './bench/profile-load.js'
import { seed } from './bench/seed.js'
import { startTimes } from './bench/start-time.js'
import {
  BENCH_METRICS_TOKEN,
  benchEnv,
  downloadVisitsCsv,
  homeRequests,
  tapRequests,
  waitUntilHealthy,
  webNodeFlags,
} from './bench/web-process.js'
import { isBuildCurrent } from './build-if-changed.mjs'

/**
 * `npm run bench [-- --quick] [-- --postgres] [-- --home] [-- --tap]`: measures the production build against a bare Fastify baseline
 * started in the same run, prints one table and writes bench/results.json. Throughput figures are
 * ratios to the baseline so they survive a noisy machine.
 */
const quick = process.argv.includes('--quick')
/** Only what the PostgreSQL section compares with: the baseline, SQLite's floor and taps, then section 8. */
const postgresOnly = process.argv.includes('--postgres')
/** Only the home page: the baseline, rows 3 and 3b, and its CPU profile (row 12), in about a minute. */
const homeOnly = process.argv.includes('--home')
/** Only taps: the baseline, the floor and taps (rows 1b, 2) and the tap's CPU profile (row 11), in about three minutes. */
const tapOnly = process.argv.includes('--tap')
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
  /** What `ratio` is measured against (a baseline measured in the same run). */
  versus?: string
  target?: string
  ok?: boolean
  /** The 1-minute load average when the figure was taken (the machine is shared). */
  load?: number
}

/** Adds a row, stamped with the machine's load average at the time its figure was taken. */
function record(rows: Row[], row: Row): void {
  const stamped = { versus: row.ratio === undefined ? undefined : 'hello', ...row, load: loadavg()[0] }
  rows.push(stamped)
  // Printed as it is taken too, so a run stopped half-way still shows what it measured.
  console.error(
    `[bench] ${stamped.name}: ${stamped.ok === undefined ? '' : stamped.ok ? 'PASS ' : 'MISS '}${JSON.stringify({ ...stamped, name: undefined })}`,
  )
}

/** Runs one section; if it fails, a MISS row says why and the rest of the run goes on. */
async function section(rows: Row[], name: string, run: () => Promise<void>): Promise<void> {
  try {
    await run()
  } catch (error) {
    record(rows, { name, note: `failed: ${(error as Error).message}`, ok: false })
  }
}

const MB = 2 ** 20
const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? '' : n.toFixed(digits)

/** Builds as `npm start` does: only when a build input changed, recording what it built from. */
function build(): void {
  const result = spawnSync(process.execPath, [join(projectRoot, 'scripts', 'build-if-changed.mjs')], {
    cwd: projectRoot,
    stdio: 'inherit',
  })
  if (result.status !== 0) throw new Error('build failed')
}

/** Copies the SQLite database of one data folder (the file and its WAL) into another, for the floor. */
function copyDatabase(fromDir: string, toDir: string): void {
  for (const file of ['register.db', 'register.db-wal'])
    if (existsSync(join(fromDir, file))) copyFileSync(join(fromDir, file), join(toDir, file))
}

/** Forks one of the reference servers in scripts/bench/, which reports the address it listens on. */
function startReference(
  file: 'hello.mjs' | 'tap-floor.mjs' | 'home-floor.mjs' | 'tap-floor-pg.mjs' | 'same-bytes.mjs',
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

async function startApp(
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
): Promise<{ url: string; child: ChildProcess }> {
  const port = nextPort++
  const url = `http://127.0.0.1:${port}`
  // Exactly as the Procfile starts it (its node flags are read from the Procfile).
  const child = spawn(
    process.execPath,
    [...webNodeFlags(), join(projectRoot, 'dist', 'server', 'server.js')],
    {
      cwd: projectRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...benchEnv(dataDir, port), ...env },
    },
  )
  try {
    await waitUntilHealthy(url)
  } catch (error) {
    child.kill()
    throw error
  }
  return { url, child }
}

async function eventLoopP99Ms(url: string): Promise<number> {
  const text = await (
    await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${BENCH_METRICS_TOKEN}` } })
  ).text()
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
 * has fallen below start-up's and held for 2 s, or 45 s have passed since start-up without requests.
 * (30 s until 2026-12-02: the reference servers' runs before it take ~30 s on a busy day, and one
 * run read 138 MB at once, before the reducer had run; the same build idle on its own: 133 MB for
 * 25 s, then 113 MB.)
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
    if (held >= 4 || seconds >= 45) return { bytes, seconds }
  }
}

function load(options: autocannon.Options): Promise<autocannon.Result> {
  return autocannon({ connections, duration: seconds, ...options })
}

/** Rounds of a ratio row: one in a quick run, three in a full one. */
const ROUNDS = quick ? 1 : 3

/** A subject measured beside its baseline: the round whose ratio is the median, and every round's ratio. */
interface Paired {
  base: autocannon.Result
  subject: autocannon.Result
  ratios: number[]
}

/**
 * Measures `base` then `subject`, ROUNDS times over, alternating, and keeps the round whose ratio
 * (subject / base) is the median. The machine's speed drifts by ±15% from one minute to the next;
 * two loads taken minutes apart gave a ratio that drifted with it, two taken back to back do not.
 */
async function alternating(
  base: () => Promise<autocannon.Result>,
  subject: () => Promise<autocannon.Result>,
): Promise<Paired> {
  const rounds: { base: autocannon.Result; subject: autocannon.Result; ratio: number }[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const b = await base()
    const s = await subject()
    rounds.push({ base: b, subject: s, ratio: s.requests.average / b.requests.average })
  }
  const median = [...rounds].sort((x, y) => x.ratio - y.ratio)[Math.floor(rounds.length / 2)]!
  return { base: median.base, subject: median.subject, ratios: rounds.map((r) => r.ratio) }
}

/** "ratios 0.45, 0.48, 0.51 in 3 alternating rounds, median shown; " (nothing for one round). */
const roundsNote = ({ ratios }: Paired) =>
  ratios.length < 2
    ? ''
    : `ratios ${ratios.map((r) => r.toFixed(2)).join(', ')} in ${ratios.length} alternating rounds, median shown; `

/** Row 2: taps against their floor, in the alternating rounds of `taps`. */
function tapRowOf(taps: Paired, base: autocannon.Result): Row {
  const row = throughputRow(
    '2. Tap: POST sign-in/sign-out',
    taps.subject,
    taps.base,
    { minRatio: 0.6, p99Max: 20 },
    'floor',
  )
  row.note = `${(taps.subject.requests.average / base.requests.average).toFixed(2)}× hello; ${roundsNote(taps)}${row.note}`
  return row
}

/** What a load run must reach: a ratio to its baseline and/or a p99 (both optional). */
interface Goal {
  minRatio?: number
  p99Max?: number
}

/** The target column's text for a goal. */
const goalText = ({ minRatio, p99Max }: Goal) =>
  [minRatio === undefined ? '' : `≥ ${minRatio}×`, p99Max === undefined ? '' : `p99 ≤ ${p99Max} ms`]
    .filter(Boolean)
    .join(', ')

/**
 * A table row for a load run: req/s, latencies and the ratio to `base` (named by `versus`), met
 * when it reaches `goal` with no failed request.
 */
function throughputRow(
  name: string,
  r: autocannon.Result,
  base: autocannon.Result,
  goal?: Goal,
  versus = 'hello',
): Row {
  const ratio = r.requests.average / base.requests.average
  return {
    name,
    reqPerSec: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    ratio,
    versus,
    note: `${r['2xx']} ok, ${r.non2xx} non-2xx`,
    target: goal ? goalText(goal) : undefined,
    ok: goal
      ? ratio >= (goal.minRatio ?? 0) &&
        r.latency.p99 <= (goal.p99Max ?? Number.POSITIVE_INFINITY) &&
        r.non2xx === 0
      : undefined,
  }
}

/** Two load runs at once (one per web process, half the connections each), as one result. */
async function loadBoth(a: autocannon.Options, b: autocannon.Options): Promise<autocannon.Result> {
  const half = Math.max(1, Math.floor(connections / 2))
  const [ra, rb] = await Promise.all([load({ ...a, connections: half }), load({ ...b, connections: half })])
  return {
    ...ra,
    requests: { ...ra.requests, average: ra.requests.average + rb.requests.average },
    latency: {
      ...ra.latency,
      p50: Math.max(ra.latency.p50, rb.latency.p50),
      p99: Math.max(ra.latency.p99, rb.latency.p99),
    },
    '2xx': ra['2xx'] + rb['2xx'],
    non2xx: ra.non2xx + rb.non2xx,
  }
}

/** Taps on two servers at once, each tapping with its own half of the people (a tap changes something). */
function tapBoth(urls: [string, string], tappers: string[]): Promise<autocannon.Result> {
  const half = Math.ceil(tappers.length / 2)
  return loadBoth(
    { url: urls[0], requests: tapRequests(tappers.slice(0, half)) },
    { url: urls[1], requests: tapRequests(tappers.slice(half)) },
  )
}

/**
 * 8. The production tier: taps and presence on PostgreSQL (+ Redis, as deployed) with one and two
 * web processes, and the floor (a tap's SQL behind bare Fastify, on a pg pool). Each run gets a
 * freshly seeded database, so every tap changes something. While two processes tap, the server's
 * wait events are sampled: a tap queue on a row (once the one `occupancy` row) shows as Lock waits.
 */
async function postgresSection(
  rows: Row[],
  base: autocannon.Result,
  sqliteTap: autocannon.Result,
  dataDir: string,
  children: ChildProcess[],
): Promise<void> {
  const server = await benchPostgres(nextPort++)
  const redisPort = nextPort++
  const redis = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  )
  children.push(redis)
  const keys = webPush.generateVAPIDKeys()
  try {
    const seeded = async () => {
      const url = await server.newDatabase()
      return { url, seeded: await seed(url, { people: PEOPLE, inside: INSIDE }) }
    }
    const envOf = (url: string) => ({
      DATABASE_URL: url,
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      VAPID_PUBLIC_KEY: keys.publicKey,
      VAPID_PRIVATE_KEY: keys.privateKey,
    })
    const where = `PostgreSQL ${server.where}, Redis`

    const floorDb = await seeded()
    const floorServer = await startReference('tap-floor-pg.mjs', { FLOOR_DATABASE_URL: floorDb.url })
    children.push(floorServer.child)
    const floor = await load({
      url: floorServer.url,
      requests: tapRequests(floorDb.seeded.tokens.slice(INSIDE)),
    })
    floorServer.child.kill()
    record(rows, {
      ...throughputRow('8a. PostgreSQL floor: a tap’s SQL behind bare Fastify', floor, base),
      note: `pg pool, prepared statements, one commit per event-loop turn; ${floor['2xx']} ok, ${floor.non2xx} non-2xx`,
    })
    // The same floor in two processes: what two web processes could reach at best on this server.
    const floorDb2 = await seeded()
    const floorServers = [
      await startReference('tap-floor-pg.mjs', { FLOOR_DATABASE_URL: floorDb2.url }),
      await startReference('tap-floor-pg.mjs', { FLOOR_DATABASE_URL: floorDb2.url }),
    ]
    children.push(...floorServers.map((f) => f.child))
    const floor2 = await tapBoth(
      [floorServers[0]!.url, floorServers[1]!.url],
      floorDb2.seeded.tokens.slice(INSIDE),
    )
    for (const f of floorServers) f.child.kill()
    record(rows, {
      ...throughputRow('8a2. PostgreSQL floor, 2 processes', floor2, sqliteTap, undefined, 'SQLite tap'),
      note: `the best two web processes could do on this server: ${(floor2.requests.average / floor.requests.average).toFixed(2)}× one floor process; ${floor2['2xx']} ok, ${floor2.non2xx} non-2xx`,
    })

    for (const processes of [1, 2]) {
      const db = await seeded()
      const apps = []
      for (let i = 0; i < processes; i++) {
        const app = await startApp(dataDir, envOf(db.url))
        children.push(app.child)
        apps.push(app)
      }
      const admin = { authorization: `Bearer ${db.seeded.tokens[0]}` }
      const presence =
        processes === 1
          ? await load({ url: `${apps[0]!.url}/api/v1/presence`, headers: admin })
          : await loadBoth(
              { url: `${apps[0]!.url}/api/v1/presence`, headers: admin },
              { url: `${apps[1]!.url}/api/v1/presence`, headers: admin },
            )
      record(rows, {
        ...throughputRow(
          `8${processes === 1 ? 'd' : 'e'}. PostgreSQL presence, ${processes} web process${processes === 1 ? '' : 'es'}`,
          presence,
          base,
        ),
        note: `${where}; ${presence['2xx']} ok, ${presence.non2xx} non-2xx`,
      })
      const tappers = db.seeded.tokens.slice(INSIDE)
      const waits = new Map<string, number>()
      const sampler = new pg.Client({ connectionString: db.url })
      await sampler.connect()
      let sampling = true
      const sampled = (async () => {
        while (sampling) {
          const { rows: found } = await sampler.query<{ wait: string; n: number }>(
            "select coalesce(wait_event_type || ':' || wait_event, 'running') as wait, count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state = 'active' group by 1",
          )
          for (const { wait, n } of found) waits.set(wait, (waits.get(wait) ?? 0) + n)
          await delay(100)
        }
      })()
      const taps =
        processes === 1
          ? await load({ url: apps[0]!.url, requests: tapRequests(tappers) })
          : await tapBoth([apps[0]!.url, apps[1]!.url], tappers)
      sampling = false
      await sampled
      await sampler.end()
      const total = [...waits.values()].reduce((a, b) => a + b, 0) || 1
      const top = [...waits]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([w, n]) => `${w} ${Math.round((100 * n) / total)}%`)
        .join(', ')
      // One process against the PostgreSQL floor (the issue's ≥ 0.6×); two against SQLite's taps.
      const row =
        processes === 1
          ? throughputRow('8b. PostgreSQL tap, 1 web process', taps, floor, { minRatio: 0.6 }, 'PG floor')
          : throughputRow(
              '8c. PostgreSQL tap, 2 web processes',
              taps,
              sqliteTap,
              { minRatio: 1 },
              'SQLite tap',
            )
      row.note = `${(taps.requests.average / base.requests.average).toFixed(2)}× hello, ${(taps.requests.average / sqliteTap.requests.average).toFixed(2)}× SQLite's 1-process taps, ${(taps.requests.average / floor.requests.average).toFixed(2)}× the PG floor; p99 ${fmt(taps.latency.p99)} ms; active backends: ${top}; ${taps['2xx']} ok, ${taps.non2xx} non-2xx`
      record(rows, row)
      // Stopped before their database is dropped (a dropped connection would crash them noisily).
      await Promise.all(
        apps.map((app) => {
          const exited = new Promise((resolve) => app.child.once('exit', resolve))
          app.child.kill()
          return exited
        }),
      )
    }
  } finally {
    redis.kill()
    await server.close()
  }
}

/**
 * 3. Home page with the device cookie only (a phone whose session cookie expired): every request
 * starts a session for the page's CSRF token. Its devices were last used long ago. 3a, its floor:
 * the same page's SQL and session behind a bare Fastify, on its own copy of the same database
 * (`floorFile`), in the same rounds. Then 3b.
 */
async function homeRows(
  rows: Row[],
  url: string,
  sqliteFile: string,
  floorFile: string,
  tokens: string[],
  base: autocannon.Result,
  hello: () => Promise<autocannon.Result>,
): Promise<void> {
  const floorServer = await startReference('home-floor.mjs', { FLOOR_DATABASE: floorFile })
  // Each round finds every device last used over a minute before, as the first round did, and
  // measures hello, the floor and the app back to back; the round with the median ratio to hello is shown.
  const rounds: {
    base: autocannon.Result
    floor: autocannon.Result
    subject: autocannon.Result
    ratio: number
  }[] = []
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const b = await hello()
      await staleDevices(floorFile)
      const floor = await load({ url: floorServer.url, requests: homeRequests(tokens) })
      await staleDevices(sqliteFile)
      const subject = await load({ url, requests: homeRequests(tokens) })
      rounds.push({ base: b, floor, subject, ratio: subject.requests.average / b.requests.average })
    }
  } finally {
    floorServer.child.kill()
  }
  const median = [...rounds].sort((x, y) => x.ratio - y.ratio)[Math.floor(rounds.length / 2)]!
  const pages: Paired = { base: median.base, subject: median.subject, ratios: rounds.map((r) => r.ratio) }
  const home = pages.subject
  const toFloor = (r: (typeof rounds)[number]) =>
    (r.subject.requests.average / r.floor.requests.average).toFixed(2)
  record(rows, {
    ...throughputRow(
      '3a. Floor: a home page’s SQL and session behind bare Fastify',
      median.floor,
      pages.base,
    ),
    note: `no headers, limits, auth plugin, query builder or template engine; the app ${rounds.map(toFloor).join(', ')}× it in the rounds; ${median.floor['2xx']} ok, ${median.floor.non2xx} non-2xx`,
  })
  record(rows, {
    ...throughputRow('3. Home page: GET / (device cookie only)', home, pages.base, {
      minRatio: 0.2,
      p99Max: 25,
    }),
    note: `every device last used > 1 min before; ${toFloor(median)}× its floor (3a); ${(home.requests.average / base.requests.average).toFixed(2)}× row 1's hello; ${roundsNote(pages)}${home['2xx']} ok, ${home.non2xx} non-2xx`,
  })
  const cookies = await sessionCookieCheck(url, tokens[INSIDE]!)
  record(rows, {
    name: '3b. Home page: no Set-Cookie when the session did not change',
    note: `br_session cookies set: ${cookies.first} on the first page (new session), ${cookies.again} on the next with it`,
    target: '1 then 0',
    ok: cookies.first === 1 && cookies.again === 0,
  })
}

const PROFILES = {
  tap: {
    row: '11',
    label: 'Tap',
    unit: 'taps/s',
    per: 'tap',
    routeDir: '/server/routes/api/',
    floor: 'tap-floor',
  },
  home: {
    row: '12',
    label: 'Home page',
    unit: 'pages/s',
    per: 'page',
    routeDir: '/server/routes/register/',
    floor: 'home-floor',
  },
} as const

/**
 * 11, 12. Where a tap's or a home page's time goes: a CPU profile of the web process under the load
 * of row 2 or 3, on a fresh copy of the people in `profileDir`; one row per part of the request.
 * A tap's rows also give the floor's time in the same part (the floor profiled under the same load
 * on its own copy of the same people), and row 11 the two side by side: what 0.6× would allow.
 */
async function profileRows(rows: Row[], name: keyof typeof PROFILES, profileDir: string): Promise<void> {
  const { row, label, unit, per, routeDir, floor: floorName } = PROFILES[name]
  await section(rows, `${row}. ${label} CPU profile`, async () => {
    const database = join(profileDir, 'register.db')
    const profileSeed = await seed(database, { people: PEOPLE, inside: INSIDE })
    if (name === 'home') await staleDevices(database)
    const tappers = profileSeed.tokens.slice(INSIDE)
    const loadOf = () => (name === 'tap' ? tapRequests(tappers) : homeRequests(profileSeed.tokens))
    // The floor first, under the same load, on its own copy of the same people.
    const floorDir = join(profileDir, 'floor')
    mkdirSync(floorDir)
    copyDatabase(profileDir, floorDir)
    const floor = await profileLoad(
      { kind: 'floor', script: `${floorName}.mjs`, database: join(floorDir, 'register.db') },
      nextPort++,
      { name: floorName, requests: loadOf(), routeDir: `/scripts/bench/${floorName}.mjs` },
      seconds,
    )
    const requests = loadOf()
    const profiled = await profileLoad(
      { kind: 'web', dataDir: profileDir },
      nextPort++,
      { name, requests, routeDir },
      seconds,
    )
    const perRequest = profiled.shares.reduce((sum, s) => sum + s.microsPerRequest, 0)
    const floorMicros = new Map(floor.shares.map((s) => [s.part, s.microsPerRequest]))
    const floorPerRequest = floor.shares.reduce((sum, s) => sum + s.microsPerRequest, 0)
    record(rows, {
      name: `${row}. ${label} CPU: busy µs per ${per}, floor vs app`,
      ratio: floorPerRequest / perRequest,
      versus: 'app',
      note: `floor ${fmt(floorPerRequest)} µs (${fmt(floor.reqPerSec)} ${unit} profiled), app ${fmt(perRequest)} µs${
        name === 'tap' ? `; 0.6× the floor allows the app ${fmt(floorPerRequest / 0.6)} µs` : ''
      }`,
    })
    for (const [i, { part, share, microsPerRequest }] of profiled.shares.entries()) {
      const inFloor = floorMicros.get(part)
      record(rows, {
        name: `${row}${String.fromCharCode(97 + i)}. ${label} CPU share: ${part}`,
        ratio: share,
        versus: 'busy CPU',
        note: `${fmt(microsPerRequest)} µs each (floor ${fmt(inFloor ?? 0)})${
          i === 0
            ? `; profiled run: ${fmt(profiled.reqPerSec)} ${unit} under --cpu-prof, ${fmt(perRequest)} µs of busy CPU each, idle excluded`
            : ''
        }`,
      })
    }
  })
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
      oldVisits: postgresOnly || homeOnly ? 0 : PURGE_ROWS,
      oldDaysFrom: 120,
      oldDaysTo: 480,
    })
    // The floor taps on a copy of the very same database (its people, tokens and history: a tap
    // into a million past visits costs more than into none), taken before the app opens it. The
    // home page's floor (3a) runs on it after the taps, which leave it as they leave the app's.
    const floorDir = tempDir()
    copyDatabase(mainDir, floorDir)
    // Row 1c's floor, without SQLite's sync at WAL restarts, on a copy of its own.
    const unsyncedFloorDir = tempDir()
    copyDatabase(mainDir, unsyncedFloorDir)
    const app = await startApp(mainDir)
    children.push(app.child)
    const startedAt = performance.now()
    const startRss = rss(app.child.pid!, 'VmRSS')

    // 1. Baseline. Its server runs on for the home page's rounds (row 3).
    const baseline = await startReference('hello.mjs')
    children.push(baseline.child)
    const hello = () => load({ url: baseline.url })
    const base = await hello()
    record(rows, {
      name: '1. Baseline: Fastify hello-world',
      reqPerSec: base.requests.average,
      p50: base.latency.p50,
      p99: base.latency.p99,
      ratio: 1,
    })

    if (homeOnly) {
      await homeRows(
        rows,
        app.url,
        join(mainDir, 'register.db'),
        join(floorDir, 'register.db'),
        seeded.tokens,
        base,
        hello,
      )
      app.child.kill()
      await profileRows(rows, 'home', tempDir())
      return report(rows)
    }

    // 1b. The floor for taps: only a tap's SQL behind a bare Fastify, on its copy of the database.
    //     It runs on for row 2, whose rounds alternate with its own. Each server keeps its own
    //     list of who is in (a tap toggles), from one round to the next.
    const floorServer = await startReference('tap-floor.mjs', {
      FLOOR_DATABASE: join(floorDir, 'register.db'),
    })
    children.push(floorServer.child)
    const tappers = seeded.tokens.slice(INSIDE)
    const floorTaps = tapRequests(tappers)
    const appTaps = tapRequests(tappers)
    const tapRounds = async () => {
      const paired = await alternating(
        () => load({ url: floorServer.url, requests: floorTaps }),
        () => load({ url: app.url, requests: appTaps }),
      )
      floorServer.child.kill()
      record(rows, {
        ...throughputRow('1b. Floor: a tap’s SQL behind bare Fastify', paired.base, base),
        note: `no headers, limits, session, auth plugin or query builder; ${paired.base['2xx']} ok, ${paired.base.non2xx} non-2xx`,
      })
      await unsyncedFloorRow(paired.base)
      return paired
    }
    // 1c. Where the floor's own tail comes from (and the app's, which does the same): the same floor
    //     with synchronous=OFF, one load. In WAL mode with NORMAL, SQLite syncs this connection's WAL
    //     once: the header, in the first commit after a checkpoint has emptied the WAL (a restart),
    //     on the event loop. A comparison only: OFF risks the file on a power cut, the app never runs so.
    const unsyncedFloorRow = async (synced: autocannon.Result) => {
      const unsynced = await startReference('tap-floor.mjs', {
        FLOOR_DATABASE: join(unsyncedFloorDir, 'register.db'),
        FLOOR_SYNCHRONOUS: 'OFF',
      })
      children.push(unsynced.child)
      const result = await load({ url: unsynced.url, requests: tapRequests(tappers) })
      unsynced.child.kill()
      record(rows, {
        ...throughputRow('1c. Floor without the sync at WAL restarts (comparison only)', result, base),
        note: `synchronous=OFF on its connection: p99 ${result.latency.p99} ms against row 1b’s ${synced.latency.p99} ms, ${(result.requests.average / synced.requests.average).toFixed(2)}× its taps/s; ${result['2xx']} ok, ${result.non2xx} non-2xx`,
      })
    }

    if (tapOnly) {
      record(rows, tapRowOf(await tapRounds(), base))
      baseline.child.kill()
      app.child.kill()
      await profileRows(rows, 'tap', tempDir())
      return report(rows)
    }

    if (postgresOnly) {
      const { subject: tap } = await tapRounds()
      baseline.child.kill()
      record(rows, throughputRow('2. Tap: POST sign-in/sign-out', tap, base))
      app.child.kill()
      await postgresSection(rows, base, tap, tempDir(), children)
      return report(rows)
    }
    const idle = await idleRss(app.child.pid!, startedAt, startRss)

    // 4. Presence with exactly 2,000 inside, measured before the taps change who is in
    //    (the admin's token; admin includes reception).
    const presenceBytes = Buffer.from(
      await (
        await fetch(`${app.url}/api/v1/presence`, {
          headers: { authorization: `Bearer ${seeded.tokens[0]}`, 'accept-encoding': 'identity' },
        })
      ).arrayBuffer(),
    )
    const presenceCount = JSON.parse(presenceBytes.toString('utf8')) as { count: number }
    // 4a. Its own baseline: the same bytes sent by a bare Fastify server (the cost of moving ~400 KB
    //     to fifty connections on this machine, which no server can go below).
    const bodyFile = join(tempDir(), 'presence.json')
    writeFileSync(bodyFile, presenceBytes)
    const sameBytesServer = await startReference('same-bytes.mjs', { BODY_FILE: bodyFile })
    children.push(sameBytesServer.child)
    const sameBytes = await load({ url: sameBytesServer.url })
    sameBytesServer.child.kill()
    record(rows, {
      ...throughputRow('4a. Baseline: the same presence bytes from bare Fastify', sameBytes, base),
      note: `${Math.round(presenceBytes.length / 1024)} KB, uncompressed, from memory; ${sameBytes['2xx']} ok, ${sameBytes.non2xx} non-2xx`,
    })
    const presence = await load({
      url: `${app.url}/api/v1/presence`,
      headers: { authorization: `Bearer ${seeded.tokens[0]}` },
    })
    record(rows, {
      ...throughputRow('4. Presence: GET /api/v1/presence', presence, sameBytes, undefined, 'same bytes'),
      target: 'p99 ≤ 25 ms',
      ok: presence.latency.p99 <= 25 && presence.non2xx === 0 && presenceCount.count >= INSIDE,
      note: `${presenceCount.count} inside; same bytes from bare Fastify: p99 ${sameBytes.latency.p99} ms; ${(presence.requests.average / base.requests.average).toFixed(2)}× hello; ${presence['2xx']} ok, ${presence.non2xx} non-2xx`,
    })
    // Reception screens are browsers, and browsers (and fetch) always ask for gzip: ~10× fewer bytes.
    const presenceGzip = await load({
      url: `${app.url}/api/v1/presence`,
      headers: { authorization: `Bearer ${seeded.tokens[0]}`, 'accept-encoding': 'gzip, deflate, br' },
    })
    record(rows, {
      ...throughputRow('4b. Presence, as browsers ask (gzip)', presenceGzip, base),
      target: 'p99 ≤ 25 ms',
      ok: presenceGzip.latency.p99 <= 25 && presenceGzip.non2xx === 0,
      note: `${presenceGzip['2xx']} ok, ${presenceGzip.non2xx} non-2xx`,
    })

    // 1b, 2. Taps, against their floor, in alternating rounds.
    const taps = await tapRounds()
    const { subject: tap } = taps
    record(rows, tapRowOf(taps, base))

    await homeRows(
      rows,
      app.url,
      join(mainDir, 'register.db'),
      join(floorDir, 'register.db'),
      seeded.tokens,
      base,
      hello,
    )
    baseline.child.kill()

    // 10. Lighthouse (mobile: 4× CPU slowdown, slow 4G) on every staff page.
    await section(rows, '10. Lighthouse mobile', async () => {
      const tokens = { inside: seeded.tokens[0]!, outside: seeded.tokens[INSIDE]! }
      for (const row of await lighthouseRows(app.url, tokens)) record(rows, row)
    })

    // 6. Purge of rows past retention while taps run (the purge as the CLI/worker runs it).
    const before = await load({
      url: app.url,
      requests: appTaps,
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
      { url: app.url, connections, duration: 600, requests: appTaps },
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
    record(rows, {
      name: `6. Purge ${PURGE_ROWS.toLocaleString('en-GB')} rows during taps`,
      reqPerSec: during.requests.average,
      p50: during.latency.p50,
      p99: during.latency.p99,
      ratio: duringRatio,
      versus: 'taps before',
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
    record(rows, {
      name: `5. Export CSV of ${EXPORT_ROWS.toLocaleString('en-GB')} visits`,
      note: `${fmt(rowsPerSec)} rows/s (${csv.rows} rows, ${fmt(csv.bytes / MB, 1)} MB in ${csv.seconds.toFixed(1)} s); peak RSS ${fmt(exportPeak / MB)} MB`,
      target: '≥ 200,000 rows/s, peak RSS ≤ 200 MB',
      ok: csv.status === 200 && csv.rows === EXPORT_ROWS && rowsPerSec >= 200_000 && exportPeak <= 200 * MB,
    })
    exporter.child.kill()

    // 9. `npm start` with nothing changed since the build, against the built server started directly.
    await section(rows, '9. Start: `npm start` to first answer, nothing changed', async () => {
      if (!isBuildCurrent(projectRoot))
        throw new Error('a build input changed during the run (npm start would rebuild)')
      const started = await startTimes(floorDir, [nextPort++, nextPort++])
      record(rows, {
        name: '9. Start: `npm start` to first answer, nothing changed',
        ratio: started.direct / started.npmStart,
        versus: 'bare start',
        note: `npm start ${started.npmStart.toFixed(2)} s; the built server started directly ${started.direct.toFixed(2)} s`,
        target: '≤ 3 s',
        ok: started.npmStart <= 3,
      })
    })

    // 11, 12. Where a tap's and a home page's time goes: CPU profiles of the web process under the
    //     same loads as rows 2 and 3, each on a fresh copy of the people.
    for (const which of ['tap', 'home'] as const) await profileRows(rows, which, tempDir())

    await section(rows, '8. PostgreSQL tier', () => postgresSection(rows, base, tap, tempDir(), children))

    record(rows, {
      name: '7. Memory: web RSS idle → after runs',
      note: `${fmt(idle.bytes / MB)} MB → ${fmt(afterRss / MB)} MB (${fmt(startRss / MB)} MB just after start-up, idle ${fmt(idle.seconds)} s later)`,
      target: 'idle ≤ 120 MB',
      ok: idle.bytes <= 120 * MB,
    })
  } finally {
    for (const child of children) child.kill()
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  }
  report(rows)
}

/** Prints the table and writes bench/results.json. */
function report(rows: Row[]): void {
  rows.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
  const header = ['Benchmark', 'req/s', 'p50 ms', 'p99 ms', 'ratio', 'vs', 'target', 'met', 'load', 'notes']
  const table = rows.map((r) => [
    r.name,
    fmt(r.reqPerSec),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    r.ratio === undefined ? '' : r.ratio.toFixed(2),
    r.versus ?? '',
    r.target ?? '',
    r.ok === undefined ? '' : r.ok ? 'PASS' : 'MISS',
    fmt(r.load, 2),
    r.note ?? '',
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('-|-')}`)
  for (const row of table) console.log(line(row))
  mkdirSync(join(projectRoot, 'bench'), { recursive: true })
  const results = {
    date: new Date().toISOString(),
    loadAtEnd: loadavg(),
    quick,
    postgresOnly,
    homeOnly,
    seconds,
    connections,
    node: process.version,
    rows,
  }
  writeFileSync(join(projectRoot, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  console.log('\nWritten to bench/results.json')
}

await main()
