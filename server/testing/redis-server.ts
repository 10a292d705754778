import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createConnection, createServer } from 'node:net'
import type { TestContext } from 'node:test'

/** A free TCP port on localhost (asked of the OS, then released). */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  server.close()
  await once(server, 'close')
  return port
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    let answer = ''
    socket.setTimeout(500)
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      answer += chunk.toString()
      if (answer.includes('\r\n')) {
        socket.destroy()
        resolve(answer.startsWith('+PONG'))
      }
    })
    socket.on('error', () => resolve(false))
    socket.on('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/** A real redis-server for one test: no persistence, its own free port; it can be killed and restarted. */
export class TestRedis {
  private child: ChildProcess | undefined
  private readonly clients: { close(): Promise<void> }[] = []

  private constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Starts redis-server on a free port; when the test ends, closes its clients, then kills it. */
  static async start(t: TestContext): Promise<TestRedis> {
    const redis = new TestRedis(await freePort())
    t.after(async () => {
      await redis.restart()
      for (const client of redis.clients.reverse()) await client.close()
      await redis.stop()
    })
    await redis.restart()
    return redis
  }

  /** Closes this client (queues, workers) at the end of the test, while the server is still up. */
  closeAtEnd<T extends { close(): Promise<void> }>(client: T): T {
    this.clients.push(client)
    return client
  }

  /** (Re)starts the server on the same port and waits until it answers PING. */
  async restart(): Promise<void> {
    if (this.child) return
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    )
    this.child = child
    child.on('exit', () => {
      if (this.child === child) this.child = undefined
    })
    const deadline = Date.now() + 10_000
    while (!(await ping(this.port))) {
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port}`)
      if (!this.child)
        throw new Error('redis-server exited at start (is it installed? scripts/test.sh installs it)')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Kills the server (as a crash would) and waits for it to be gone. */
  async stop(): Promise<void> {
    const child = this.child
    if (!child) return
    this.child = undefined
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
}
