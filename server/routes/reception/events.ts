import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { ReceptionOptions } from './shared.js'

/** /reception/events: server-sent events telling reception pages that something changed. */
export default async function eventRoutes(app: FastifyInstance, { live }: ReceptionOptions): Promise<void> {
  const { events } = app.ctx
  const streams = new Set<PassThrough>()
  // Open event streams would keep the server from closing. A stream whose request was still in its
  // checks when the close began (a page reconnecting as the process is told to stop) opens after
  // this hook ran: it is ended at once, or the close would wait for it as long as the page stays.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
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
    // On Redis, this process stops hearing the others while its subscription is down, and what
    // they publish meanwhile is lost: the page says its list may be out of date ("paused") and
    // fetches a fresh one when everything is heard again, or when another process says it could
    // not publish a change ("refresh").
    let hearing = events.hearing && live.hearing
    const onHearing = (heard: boolean) => {
      const now = events.hearing && live.hearing
      if (now === hearing && !(now && heard)) return
      hearing = now
      send(now ? 'refresh' : 'paused', {})
    }
    // An event, not a comment: the page's script cannot see comments, and a page that hears
    // nothing for a minute knows its connection is dead even when the phone has not noticed.
    const heartbeat = setInterval(() => stream.write('event: keep-alive\ndata: {}\n\n'), 25_000)
    const cleanup = () => {
      clearInterval(heartbeat)
      events.off('change', onPresence)
      live.off('change', onLive)
      events.off('hearing', onHearing)
      live.off('hearing', onHearing)
      streams.delete(stream)
    }
    events.on('change', onPresence)
    live.on('change', onLive)
    events.on('hearing', onHearing)
    live.on('hearing', onHearing)
    streams.add(stream)
    reply.raw.on('close', cleanup)
    stream.on('close', cleanup)
    stream.write('retry: 5000\n: connected\n\n')
    if (closing) {
      // Nothing keeps its connection either: once idle it would hold the close until it timed out.
      stream.end()
      reply.header('connection', 'close')
    } else if (!hearing) send('paused', {})
    reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('x-accel-buffering', 'no')
    return reply.send(stream)
  })
}
