import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A scripted answer a fake gives instead of its normal one. */
export interface ScriptedReply {
  status: number
  body?: unknown
  headers?: Record<string, string>
  /** Wait this long before answering. */
  delayMs?: number
  /** Never answer (until the client gives up or the fake closes): a hang, whatever the machine's load. */
  hang?: boolean
  /** Runs before the answer goes out: something else happening while the request is in flight. */
  meanwhile?: () => Promise<void>
}

/** Gives a scripted reply after its delay (unless the client gave up, or it hangs); `errorBody` when it has none. */
export async function sendScripted(
  response: ServerResponse,
  reply: ScriptedReply,
  errorBody: unknown,
): Promise<void> {
  if (reply.hang) {
    if (!response.destroyed) await once(response, 'close')
    return
  }
  await new Promise((resolve) => setTimeout(resolve, reply.delayMs ?? 0))
  await reply.meanwhile?.()
  if (response.destroyed) return
  sendJson(response, reply.status, reply.body ?? errorBody, reply.headers)
}

/** A local HTTP server for a fake provider: listens on a free port, closes when the test ends. */
export async function listen(
  handler: (request: IncomingMessage, body: string, response: ServerResponse) => Promise<void> | void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (c: Buffer) => chunks.push(c))
    request.on('end', () => {
      Promise.resolve(handler(request, Buffer.concat(chunks).toString('utf8'), response)).catch((error) => {
        response.writeHead(500, { 'content-type': 'text/plain' })
        response.end(String(error))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { server, url: `http://127.0.0.1:${port}` }
}

/** Writes a JSON answer. */
export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : JSON.stringify(body)
  response.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), ...headers })
  response.end(text)
}

/** Closes a server, dropping idle keep-alive connections so the test can end. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}
