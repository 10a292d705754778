import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { projectRoot } from '../../server/paths.js'
import { benchEnv, webNodeFlags } from './web-process.js'

/**
 * Seconds from spawning `command` (in its own process group) to the first answer of /healthz on
 * `port`, polled every 20 ms; then the whole group is stopped.
 */
async function secondsToFirstAnswer(command: string, args: string[], dataDir: string, port: number): Promise<number> {
  const started = performance.now()
  const child = spawn(command, args, {
    cwd: projectRoot,
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: benchEnv(dataDir, port),
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${command} ${args.join(' ')} exited ${child.exitCode}`)
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return (performance.now() - started) / 1000
      } catch {}
      if (performance.now() - started > 120_000) throw new Error(`${command} did not answer in 120 s`)
      await delay(20)
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM')
    await exited
  }
}

/**
 * `npm start` with nothing changed since the last build (its build-if-changed step finds the build
 * current), against the built server started directly, on the same migrated database.
 */
export async function startTimes(dataDir: string, ports: [number, number]): Promise<{ direct: number; npmStart: number }> {
  const direct = await secondsToFirstAnswer(
    process.execPath,
    [...webNodeFlags(), join(projectRoot, 'dist', 'server', 'server.js')],
    dataDir,
    ports[0],
  )
  const npmStart = await secondsToFirstAnswer('npm', ['start', '--silent'], dataDir, ports[1])
  return { direct, npmStart }
}
