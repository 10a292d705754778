import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { webNodeFlags } from './procfile.js'
import { seed } from './seed.js'

/**
 * `tsx scripts/bench/profile.ts tap|home|presence|presence-gzip|healthz [--no-prof]`: runs the production server
 * under one load for 5 s and CPU-profiles it (writes /tmp/prof/*.cpuprofile). `healthz` is the
 * floor: every global hook (headers, rate limit, session, compression) and one trivial query.
 */
const which = process.argv[2] ?? 'tap'
const profile = !process.argv.includes('--no-prof')
const dir = mkdtempSync(join(tmpdir(), 'br-prof-'))
const s = await seed(join(dir, 'register.db'), { people: 3000, inside: 2000 })
const port = 24567
const flags = profile ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []
const child = spawn(process.execPath, [...flags, ...webNodeFlags(), 'dist/server/server.js'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    NODE_ENV: 'production',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dir,
    SESSION_SECRET: 'x'.repeat(40),
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '1000000',
  },
})
await new Promise((r) => setTimeout(r, 1500))
const tokens = which === 'tap' ? s.tokens.slice(2000) : s.tokens
const state = new Array<boolean>(tokens.length).fill(false)
let n = 0
const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: 50,
  duration: 5,
  requests: [
    {
      method: which === 'tap' ? 'POST' : 'GET',
      setupRequest: (req) => {
        const i = n++ % tokens.length
        if (which === 'home') return { ...req, path: '/', headers: { cookie: `br_device=${tokens[i]}` } }
        if (which === 'healthz') return { ...req, path: '/healthz' }
        if (which.startsWith('presence')) {
          const headers: Record<string, string> = { authorization: `Bearer ${tokens[0]}` }
          if (which === 'presence-gzip') headers['accept-encoding'] = 'gzip, deflate, br'
          return { ...req, path: '/api/v1/presence', headers }
        }
        const path = state[i] ? '/api/v1/sign-out' : '/api/v1/sign-in'
        state[i] = !state[i]
        return {
          ...req,
          path,
          body: '{}',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` },
        }
      },
    },
  ],
})
console.log(which, result.requests.average, 'req/s; p50', result.latency.p50, 'p99', result.latency.p99, 'non2xx', result.non2xx)
child.kill('SIGINT')
await new Promise((r) => child.once('exit', r))
