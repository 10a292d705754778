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
  if (words[0] !== 'node') throw new Error('Procfile: expected "web: node [flags] dist/server/server.js"')
  return words.slice(1, -1)
}

/** Waits until the web process at `url` answers /healthz (it migrates and loads first). */
export async function waitUntilHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`the app at ${url} did not start`)
}

const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789'

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
