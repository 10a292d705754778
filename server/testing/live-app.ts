import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../app.js'
import { consoleChannel } from '../messaging/console.channel.js'
import { testConfig } from './build-test-app.js'
import { testDatabase } from './test-database.js'

/** The real app listening on a free port of 127.0.0.1 (a secure context for service workers). */
export interface LiveApp {
  app: FastifyInstance
  base: string
  outbox: string[]
  /** Every URL path the server was asked for, in order. */
  hits: string[]
  lastCode(contact: string): string
}

/** Starts the app with the real clock (the browser's clock stamps offline taps) on a free port. */
export async function startLiveApp(t: TestContext, env: Record<string, string> = {}): Promise<LiveApp> {
  const outbox: string[] = []
  const hits: string[] = []
  const database = await testDatabase()
  const app = await buildApp(testConfig({ ...database.env, ...env }), {
    logger: { level: process.env.TEST_LOG_LEVEL ?? 'error' },
    channels: () => [consoleChannel({ info: (line: string) => outbox.push(line) })],
  })
  app.addHook('onRequest', async (request) => {
    hits.push(request.url.split('?')[0]!)
  })
  t.after(async () => {
    await app.close()
    await database.drop()
  })
  await app.listen({ host: '127.0.0.1', port: Number(env.PORT ?? 0) })
  const { port } = app.server.address() as AddressInfo
  return {
    app,
    base: `http://127.0.0.1:${port}`,
    outbox,
    hits,
    lastCode(contact: string) {
      const line = outbox.findLast((l) => l.startsWith(`message to ${contact} `))
      const match = line && /code[^0-9]*is (\d{6})/.exec(line)
      if (!match) throw new Error(`no code was sent to ${contact}`)
      return match[1]!
    },
  }
}
