import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { ReceptionOptions } from './shared.js'

/** /reception/events: server-sent events telling reception pages that something changed. */
export default async function eventRoutes(app: FastifyInstance, { live }: ReceptionOptions): Promise<void> {
  const { events } = app.ctx
  const streams = new Set<PassThrough>()
  // Open event streams would keep the server from closing.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end()
  })

  app.get('/reception/events', async (request, reply) => {
    const stream = new PassThrough()
    // A stream outlives the checks made when it opened: each event is sent only if the device is
    // still live and its person still reception, else the stream ends (logout, revocation, demotion).
    let checks = Promise.resolve(true)
    const send = (event: string, data: object) => {
      checks = checks
        .then((allowed) => allowed && app.cookiePersonStillHasRole(request, 'reception'))
        .catch(() => false)
        .then((allowed) => {
          if (stream.writableEnded) return false
          if (allowed) stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
          else stream.end()
          return allowed
        })
    }
    // Events carry no names: pages fetch their own fresh copy, which checks the role again.
    const onPresence = (change: { at: number }) => send('presence', { at: change.at })
    const onLive = (change: { topic: string; id: number }) => send(change.topic, { id: change.id })
    const heartbeat = setInterval(() => stream.write(': keep-alive\n\n'), 25_000)
    const cleanup = () => {
      clearInterval(heartbeat)
      events.off('change', onPresence)
      live.off('change', onLive)
      streams.delete(stream)
    }
    events.on('change', onPresence)
    live.on('change', onLive)
    streams.add(stream)
    reply.raw.on('close', cleanup)
    stream.on('close', cleanup)
    stream.write('retry: 5000\n: connected\n\n')
    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
    return reply.send(stream)
  })
}
