import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { Redis, type RedisOptions } from 'ioredis'
import type { LiveTransport } from './live-topic.js'

/**
 * Connection options for a Redis URL. rediss:// (Heroku Redis) uses TLS with self-signed
 * certificates, so the certificate chain is not verified unless REDIS_TLS_VERIFY is on; the
 * connection is still encrypted.
 */
export function redisOptions(url: string, verifyTls = false): RedisOptions {
  return url.startsWith('rediss:') ? { tls: { rejectUnauthorized: verifyTls } } : {}
}

/**
 * A connection for web-side commands (publishing, rate-limit counters, health): it fails fast
 * while Redis is unreachable instead of queueing, so no request waits on Redis.
 */
export function commandConnection(url: string, verifyTls = false): Redis {
  return new Redis(url, {
    ...redisOptions(url, verifyTls),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    // Reconnect forever, at most 2 s apart: Redis coming back must be noticed quickly.
    retryStrategy: (times) => Math.min(times * 100, 2000),
  })
}

/** The live transport over Redis pub/sub, with its own subscriber connection. */
export interface RedisTransport extends LiveTransport {
  /** True when both connections are up and subscribed. */
  ready(): boolean
  close(): Promise<void>
}

/** Prefix of every pub/sub channel the register uses. */
export const CHANNEL_PREFIX = 'register:live:'

/**
 * Redis pub/sub between processes: `publisher` is a fail-fast command connection; subscribing
 * takes a connection of its own (a subscribed connection can do nothing else), which resubscribes
 * by itself after a reconnect. Each process tags its messages so it does not hear its own twice.
 */
export function redisTransport(
  publisher: Redis,
  url: string,
  log: Pick<FastifyBaseLogger, 'warn' | 'info'>,
  verifyTls = false,
): RedisTransport {
  const origin = randomUUID()
  const listeners = new Map<string, (message: string) => void>()
  const subscriber = new Redis(url, {
    ...redisOptions(url, verifyTls),
    retryStrategy: (times) => Math.min(times * 100, 2000),
  })
  let down = false
  let publishing: 'up' | 'down' | 'unknown' = 'unknown'
  const hearingListeners: ((hearing: boolean) => void)[] = []
  let hearing = false
  const hear = (now: boolean) => {
    if (now === hearing) return
    hearing = now
    for (const listener of hearingListeners) listener(now)
  }
  subscriber.on('error', (err) => {
    if (!down)
      log.warn(
        { err: err.message },
        'Redis subscriber connection error; live updates from other processes pause',
      )
    down = true
  })
  // Messages published while the connection is down are lost for good: say so at once, and say
  // when everything is heard again, so open boards fetch what they missed.
  subscriber.on('close', () => hear(false))
  subscriber.on('ready', () => {
    if (down) log.info('Redis subscriber reconnected; live updates from other processes resume')
    down = false
    // ioredis sends the SUBSCRIBEs just before 'ready'; a PING answered after them means Redis has
    // subscribed us, so anything published from now on is heard.
    subscriber.ping().then(
      () => {
        if (subscriber.status === 'ready') hear(true)
      },
      () => {},
    )
  })
  // A change this process could not publish is lost for every other process's boards: once it can
  // publish again, it tells every process on this channel that something was missed.
  const missedChannel = `${CHANNEL_PREFIX}missed`
  const tellMissed = () => {
    publisher.publish(missedChannel, `${origin} {}`).then(
      () => {
        if (publishing === 'down') log.info('live updates reach other processes again')
        publishing = 'up'
      },
      () => {},
    )
  }
  publisher.on('ready', () => {
    if (publishing === 'down') tellMissed()
  })
  subscriber.subscribe(missedChannel).catch(() => {})
  // Something another process published was not heard as a change: boards fetch afresh.
  const missed = () => {
    if (hearing) for (const listener of hearingListeners) listener(true)
  }
  subscriber.on('message', (channel: string, raw: string) => {
    const space = raw.indexOf(' ')
    if (space < 0 || raw.slice(0, space) === origin) return
    if (channel === missedChannel) return missed()
    try {
      listeners.get(channel)?.(raw.slice(space + 1))
    } catch (err) {
      // Thrown in ioredis's event handler it would end the process; it may have been a change.
      log.warn({ err: (err as Error).message, channel }, 'unreadable live message: boards refresh')
      missed()
    }
  })
  return {
    publish(channel, message) {
      // A lost live update must never fail a tap; the boards it misses are told once Redis is back.
      // Said once per outage, not once per tap.
      publisher.publish(CHANNEL_PREFIX + channel, `${origin} ${message}`).then(
        () => {
          if (publishing === 'down') tellMissed()
          else publishing = 'up'
        },
        (err: Error) => {
          if (publishing !== 'down')
            log.warn({ err: err.message, channel }, 'live updates not published (Redis unreachable)')
          publishing = 'down'
        },
      )
    },
    subscribe(channel, listener) {
      listeners.set(CHANNEL_PREFIX + channel, listener)
      subscriber.subscribe(CHANNEL_PREFIX + channel).catch((err: Error) => {
        log.warn({ err: err.message, channel }, 'live channel not subscribed yet; retried on reconnect')
      })
    },
    onHearing(listener) {
      hearingListeners.push(listener)
    },
    ready() {
      return publisher.status === 'ready' && subscriber.status === 'ready'
    },
    async close() {
      subscriber.disconnect()
    },
  }
}
