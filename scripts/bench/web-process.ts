import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type autocannon from 'autocannon'
import { projectRoot } from '../../server/paths.js'

/** The node flags the Procfile starts the web process with, so benchmarks run it exactly so. */
export function webNodeFlags(): string[] {
  const line = readFileSync(join(projectRoot, 'Procfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('web:'))
  const words = line?.slice('web:'.length).trim().split(/\s+/) ?? []
  // Leading VAR=value assignments (the runtime database URL on Heroku) are the shell's, not node's.
  while (words[0] !== undefined && /^[A-Z_]+=/.test(words[0])) words.shift()
  if (words[0] !== 'node') throw new Error('Procfile: expected "web: node [flags] dist/server/server.js"')
  return words.slice(1, -1)
}

/** Waits (up to a minute: a loaded machine starts it slowly) until the web process at `url` answers /healthz. */
export async function waitUntilHealthy(url: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the app at ${url} did not start`)
}

const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789'

/** The bearer token the bench reads the web process's /metrics with (production serves none without one). */
export const BENCH_METRICS_TOKEN = 'bench-metrics-token-0123456789'

/** The site's time zone in every benchmark (the seed signs people in on this zone's today). */
export const BENCH_TIME_ZONE = 'Europe/London'

/** The environment the benchmarks start the production web process with. */
export function benchEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    SESSION_SECRET: SECRET,
    RATE_LIMIT_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
    METRICS_TOKEN: BENCH_METRICS_TOKEN,
    TIME_ZONE: BENCH_TIME_ZONE,
    // The benchmark triggers work itself; no timers of the embedded scheduler.
    REMINDER_TIME: 'off',
    AUTO_CLOSE_TIME: 'off',
    PURGE_TIME: 'off',
  }
}

/** Taps for autocannon: each person's bearer token signs in, then out, then in…, round the list. */
export function tapRequests(tokens: string[]): autocannon.Request[] {
  const inside = new Array<boolean>(tokens.length).fill(false)
  let next = 0
  return [
    {
      method: 'POST',
      setupRequest: (req) => {
        const i = next++ % tokens.length
        const path = inside[i] ? '/api/v1/sign-out' : '/api/v1/sign-in'
        inside[i] = !inside[i]
        return {
          ...req,
          path,
          body: '{}',
          headers: {
            ...req.headers,
            'content-type': 'application/json',
            authorization: `Bearer ${tokens[i]}`,
          },
        }
      },
    },
  ]
}

/** Home pages for autocannon: `GET /` with each person's token as the device cookie, round the list. */
export function homeRequests(tokens: string[]): autocannon.Request[] {
  let next = 0
  return [
    {
      method: 'GET',
      path: '/',
      setupRequest: (req) => ({
        ...req,
        headers: { ...req.headers, cookie: `br_device=${tokens[next++ % tokens.length]}` },
      }),
    },
  ]
}

/**
 * Downloads a year of visits as CSV from the app and counts its rows (line ends found natively in
 * the bytes: the client must cost far less than the server).
 */
export async function downloadVisitsCsv(
  url: string,
  token: string,
): Promise<{ status: number; rows: number; bytes: number; seconds: number }> {
  const to = new Date().toISOString().slice(0, 10)
  const from = new Date(Date.now() - 365 * 86_400_000).toISOString().slice(0, 10)
  const started = performance.now()
  const response = await fetch(`${url}/api/v1/visits?from=${from}&to=${to}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/csv' },
  })
  let lines = 0
  let bytes = 0
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    const bytesOf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    bytes += chunk.length
    for (let i = bytesOf.indexOf(10); i !== -1; i = bytesOf.indexOf(10, i + 1)) lines++
  }
  return { status: response.status, rows: lines - 1, bytes, seconds: (performance.now() - started) / 1000 }
}
