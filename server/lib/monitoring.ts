import type { Config } from '../config.js'

/** Where a server error happened: the route pattern (never the URL: links carry tokens). */
export interface ErrorScene {
  method: string
  route: string
  status: number
}

/** Which job failed: its queue (or "embedded") and task name; attempts made so far. */
export interface JobScene {
  queue: string
  task: string
  attempts: number
}

/** Reports server errors and failed jobs to an error tracker. */
export interface ErrorMonitor {
  capture(error: unknown, scene: ErrorScene): void
  /** A job that failed for good (no retry left), from the worker or the embedded scheduler. */
  captureJob(error: unknown, scene: JobScene): void
  /** Sends what is queued (at most `timeoutMs`) and stops. */
  close(timeoutMs: number): Promise<void>
}

const EMAIL = /[^\s@"'<>()]+@[^\s@"'<>()]+\.[a-z]{2,}/gi
const PHONE = /\+?\d[\d\s().-]{6,}\d/g
const TOKEN = /\b[A-Za-z0-9_-]{24,}\b/g

/** A message with contacts and token-like strings replaced, for anything that leaves the building. */
export function scrubText(text: string): string {
  return text.replace(EMAIL, '[email]').replace(PHONE, '[number]').replace(TOKEN, '[token]')
}

/** The parts of a Sentry event this module keeps and scrubs. */
interface SentryEventLike {
  message?: string
  exception?: { values?: { value?: string }[] }
  request?: unknown
  user?: unknown
  breadcrumbs?: unknown
  server_name?: string
}

/**
 * What is sent: the exception's type, scrubbed message and stack, the route pattern, method and
 * status. Never the request (URL, headers, cookies, body), the user, breadcrumbs (log lines), or
 * the host name.
 */
export function scrubEvent<T extends SentryEventLike>(event: T): T {
  event.request = undefined
  event.user = undefined
  event.breadcrumbs = undefined
  event.server_name = undefined
  if (event.message) event.message = scrubText(event.message)
  for (const value of event.exception?.values ?? []) {
    if (value.value) value.value = scrubText(value.value)
  }
  return event
}

/**
 * Sentry, when SENTRY_DSN is set: the official SDK, imported only then (unset, it is never loaded).
 * A client of our own on its own scope rather than the SDK's global one, so nothing else in the
 * process (tests, a second app) shares it, and no automatic instrumentation runs.
 */
export async function startErrorMonitor(config: Config): Promise<ErrorMonitor | undefined> {
  if (!config.SENTRY_DSN) return undefined
  const Sentry = await import('@sentry/node')
  const client = new Sentry.NodeClient({
    dsn: config.SENTRY_DSN,
    environment: config.SENTRY_ENVIRONMENT ?? config.NODE_ENV,
    transport: Sentry.makeNodeTransport,
    stackParser: Sentry.defaultStackParser,
    integrations: [],
    sendDefaultPii: false,
    beforeSend: (event) => scrubEvent(event),
  })
  const scope = new Sentry.Scope()
  scope.setClient(client)
  client.init()
  const send = (error: unknown, tags: Record<string, string>) => {
    scope.captureException(error, { captureContext: { tags } })
  }
  return {
    capture(error, scene) {
      send(error, { route: scene.route, method: scene.method, status: String(scene.status) })
    },
    captureJob(error, scene) {
      send(error, { queue: scene.queue, task: scene.task, attempts: String(scene.attempts) })
    },
    async close(timeoutMs) {
      await client.close(timeoutMs)
    },
  }
}
