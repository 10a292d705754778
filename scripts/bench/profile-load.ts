import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { projectRoot } from '../../server/paths.js'
import { benchEnv, waitUntilHealthy, webNodeFlags } from './web-process.js'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/**
 * The parts of a tap, each recognised by the code a sample is in (its file, or a function name).
 * A sample counts for its innermost frame that matches one of these or of the generic parts below,
 * so the SQL that authentication or idempotency runs is SQL, and the socket write that runs inside
 * the cookie plugin's onSend hook (Fastify's hooks call the next one from inside) is HTTP, not
 * the session: an earlier version looked for these parts first anywhere up the stack, and counted
 * half of every answer's write as "session, cookies".
 */
const FLOOR = /\/scripts\/bench\/(tap-floor|home-floor|floor-sqlite)\.mjs$/
/** The floors' functions that are not their SQL, by name: each is counted in the app's part for it. */
const FLOOR_NOT_SQL: Record<string, string> = {
  tokenHash: 'auth (token hash, device)',
  sealSession: 'session, cookies',
  page: 'page rendering (templates)',
  escapeHtml: 'page rendering (templates)',
  escapeChar: 'page rendering (templates)',
  pageDay: 'page rendering (templates)',
  pageTime: 'page rendering (templates)',
}
/** A floor's function counted in `part` (the floors' own code is otherwise their SQL). */
const inFloor = (url: string, name: string, part: string) => FLOOR.test(url) && FLOOR_NOT_SQL[name] === part

const PARTS: { part: string; matches: (url: string, name: string) => boolean }[] = [
  {
    part: 'SQL (Kysely, driver, unit of work)',
    matches: (url, name) =>
      /\/kysely\/|\/better-sqlite3\/|\/node_modules\/pg(-[a-z]+)?\/|\/server\/db\/|\.repository\.js$/.test(url) ||
      // A floor's own code is its SQL (its statements run natively, called from there), but for
      // the functions named in FLOOR_NOT_SQL.
      (FLOOR.test(url) && FLOOR_NOT_SQL[name] === undefined),
  },
  { part: 'rate limit', matches: (url) => /\/@fastify\/rate-limit\/|\/toad-cache\//.test(url) },
  { part: 'headers', matches: (url) => /\/server\/plugins\/security\.js$|\/helmet\//.test(url) },
  {
    part: 'auth (token hash, device)',
    matches: (url, name) =>
      /\/server\/plugins\/auth\.js$|\/server\/identity\//.test(url) || inFloor(url, name, 'auth (token hash, device)'),
  },
  { part: 'idempotency', matches: (url) => /\/server\/register\/idempotency/.test(url) },
  {
    part: 'events (live topic, outbox)',
    matches: (url) => /\/server\/register\/events\.js$|\/server\/lib\/live-topic\.js$|\/server\/outbox\//.test(url),
  },
  {
    part: 'serialisation',
    matches: (url, name) =>
      /\/fast-json-stringify\/|\/fastify\/lib\/error-serializer/.test(url) ||
      /^(stringify|serialize|JSON\.stringify)$/.test(name),
  },
  {
    part: 'session, cookies',
    matches: (url, name) =>
      /\/@fastify\/(secure-session|cookie|flash|csrf-protection|csrf)\/|\/sodium-native\//.test(url) ||
      inFloor(url, name, 'session, cookies'),
  },
  {
    part: 'page rendering (templates)',
    matches: (url, name) =>
      /\/eta\/|\/@fastify\/view\/|\/server\/plugins\/view\.js$/.test(url) ||
      inFloor(url, name, 'page rendering (templates)'),
  },
  { part: 'tracing, metrics', matches: (url) => /\/@opentelemetry\/|\/prom-client\/|\/server\/lib\/(tracing|monitoring)\.js$/.test(url) },
  { part: 'the route’s own code (services, routes)', matches: (url) => /\/server\/(register|routes)\//.test(url) },
]
const GENERIC: { part: string; matches: (url: string, name: string) => boolean }[] = [
  { part: 'garbage collection', matches: (_url, name) => name === '(garbage collector)' },
  {
    part: 'HTTP, Fastify routing, body parsing',
    matches: (url) => /\/fastify\/|\/find-my-way\/|\/ajv\/|node:_http|node:net|node:internal\/(http|stream|streams)/.test(url),
  },
]

/** Every part, the tap's own before the generic ones (checked in this order within a frame). */
const ALL_PARTS = [...PARTS, ...GENERIC]

/**
 * Shares of a CPU profile's busy time (idle excluded) by part of a request, largest first, from the
 * first sample in code under `routeDir` (the load's own route) once the server answers requests, to
 * the last.
 */
export function requestShares(
  profile: CpuProfile,
  routeDir = '/server/routes/api/',
): { part: string; share: number; micros: number }[] {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const partOf = new Map<number, string>()
  const classify = (id: number): string => {
    const known = partOf.get(id)
    if (known) return known
    const stack: ProfileNode[] = []
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!)
    const part =
      stack
        .map((n) => ALL_PARTS.find((p) => p.matches(n.callFrame.url, n.callFrame.functionName))?.part)
        .find((p) => p !== undefined) ?? 'other (Node internals, native)'
    partOf.set(id, part)
    return part
  }
  const inStack = (id: number, matches: (frame: ProfileNode['callFrame']) => boolean) => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      if (matches(byId.get(at)!.callFrame)) return true
    return false
  }
  const inRoute = (id: number) => inStack(id, (frame) => frame.url.includes(routeDir))
  // Only the load counts, not start-up: from the first sample in the route after the server
  // answered its first request, to the last. Start-up runs code in the route's file too (its module's
  // top level, its schemas compiled in Fastify's ready), and counted ~10% of a tap as HTTP before.
  const answering = profile.samples.findIndex((id) =>
    inStack(id, (frame) => frame.functionName === 'routeHandler' && frame.url.endsWith('/fastify/lib/route.js')),
  )
  const first = answering < 0 ? -1 : profile.samples.findIndex((id, i) => i >= answering && inRoute(id))
  if (first < 0) return []
  const last = profile.samples.findLastIndex(inRoute)
  const time = new Map<string, number>()
  let busy = 0
  profile.samples.forEach((id, i) => {
    if (i < first || i > last || byId.get(id)!.callFrame.functionName === '(idle)') return
    const dt = profile.timeDeltas[i] ?? 0
    const part = classify(id)
    time.set(part, (time.get(part) ?? 0) + dt)
    busy += dt
  })
  return [...time]
    .map(([part, t]) => ({ part, share: t / (busy || 1), micros: t }))
    .sort((a, b) => b.share - a.share)
}

/** The server a profile is taken of: the production web process, or a floor (the tap's or the home page's). */
export type ProfiledServer =
  | { kind: 'web'; dataDir: string }
  | { kind: 'floor'; script: 'tap-floor.mjs' | 'home-floor.mjs'; database: string }

/** How to start a profiled server on `port`: its script (node flags first) and environment. */
function serverCommand(server: ProfiledServer, port: number): { args: string[]; env: NodeJS.ProcessEnv } {
  if (server.kind === 'web')
    return {
      args: [...webNodeFlags(), join(projectRoot, 'dist', 'server', 'server.js')],
      env: benchEnv(server.dataDir, port),
    }
  return {
    args: [join(projectRoot, 'scripts', 'bench', server.script)],
    env: { ...process.env, PORT: String(port), FLOOR_DATABASE: server.database },
  }
}

/**
 * Runs a server (the production web process, or a floor) under V8's CPU profiler while
 * autocannon sends `requests` for `seconds`, and splits its busy time by part of the request
 * (`routeDir`: where the load's route lives); the profile is kept in bench/`name`.cpuprofile.
 */
export async function profileLoad(
  server: ProfiledServer,
  port: number,
  load: { name: string; requests: autocannon.Request[]; routeDir: string },
  seconds: number,
): Promise<{ shares: { part: string; share: number; microsPerRequest: number }[]; reqPerSec: number }> {
  const profileDir = mkdtempSync(join(tmpdir(), 'br-bench-prof-'))
  try {
    const { args, env } = serverCommand(server, port)
    const child = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, ...args], {
      cwd: projectRoot,
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    await waitUntilHealthy(`http://127.0.0.1:${port}`)
    const result = await autocannon({
      url: `http://127.0.0.1:${port}`,
      connections: 50,
      duration: seconds,
      requests: load.requests,
    })
    // The profile is written when the process exits (graceful close on SIGINT).
    child.kill('SIGINT')
    await exited
    const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'))
    if (!file) throw new Error(`${server.kind === 'web' ? 'the web process' : 'the floor'} wrote no CPU profile`)
    const text = readFileSync(join(profileDir, file), 'utf8')
    // Kept for the next person (open it in Chrome's DevTools, Performance tab).
    mkdirSync(join(projectRoot, 'bench'), { recursive: true })
    writeFileSync(join(projectRoot, 'bench', `${load.name}.cpuprofile`), text)
    const profile = JSON.parse(text) as CpuProfile
    // Busy CPU per answered request, part by part (the profile's time deltas are in microseconds).
    const answered = Math.max(1, result['2xx'] + result.non2xx)
    const shares = requestShares(profile, load.routeDir).map(({ part, share, micros }) => ({
      part,
      share,
      microsPerRequest: micros / answered,
    }))
    return { shares, reqPerSec: result.requests.average }
  } finally {
    rmSync(profileDir, { recursive: true, force: true })
  }
}
