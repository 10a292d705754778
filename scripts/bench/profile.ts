import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { seed } from './seed.js'

/** `tsx scripts/bench/profile.ts tap|home`: CPU-profiles the production server under one load (writes *.cpuprofile). */
const which = process.argv[2] ?? 'tap'
const dir = mkdtempSync(join(tmpdir(), 'br-prof-'))
const s = await seed(join(dir, 'register.db'), { people: 3000, inside: 2000 })
const port = 24567
const child = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', 'dist/server/server.js'], {
  stdio: 'inherit',
  env: { ...process.env, NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: `http://127.0.0.1:${port}`, DATA_DIR: dir, SESSION_SECRET: 'x'.repeat(40), LOG_LEVEL: 'warn', RATE_LIMIT_PER_MINUTE: '1000000' },
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
        if (which !== 'tap') return { ...req, path: '/', headers: { cookie: `br_device=${tokens[i]}` } }
        const path = state[i] ? '/api/v1/sign-out' : '/api/v1/sign-in'
        state[i] = !state[i]
        return { ...req, path, body: '{}', headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` } }
      },
    },
  ],
})
console.log(which, result.requests.average, result.latency.p50, result.latency.p99, result.non2xx)
child.kill('SIGINT')
await new Promise((r) => child.once('exit', r))
