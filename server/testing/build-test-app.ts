import type { TestContext } from 'node:test'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { type AppDeps, buildApp } from '../app.js'
import { type Config, loadConfig } from '../config.js'
import type { Clock } from '../lib/site-time.js'
import type { Channel } from '../messaging/channel.js'
import { consoleChannel } from '../messaging/console.channel.js'
import type { SsoNetwork } from '../sso/sso-clients.js'
import { type ApiExchange, checkApiExchanges, recordApiExchanges } from './openapi-check.js'
import { testDatabase } from './test-database.js'

/** A clock tests can set and move. */
export class TestClock implements Clock {
  constructor(public time = Date.parse('2026-11-23T09:05:00Z')) {}
  now(): number {
    return this.time
  }
  set(iso: string): void {
    this.time = Date.parse(iso)
  }
  advance(ms: number): void {
    this.time += ms
  }
}

/** Settings that turn every daily job off, for a test that runs its jobs itself (or none). */
export const noSchedules = { REMINDER_TIME: 'off', AUTO_CLOSE_TIME: 'off', PURGE_TIME: 'off' }

/** Test configuration: in-memory database, fixed secret, silent logs; override anything. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    NODE_ENV: 'test',
    SESSION_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    DATABASE_PATH: ':memory:',
    PUBLIC_URL: 'http://register.test',
    LOG_LEVEL: 'silent',
    ...env,
  })
}

/** The app and what a test needs to drive it: clock, the console log of sent messages. */
export interface TestApp {
  app: FastifyInstance
  clock: TestClock
  config: Config
  /** Every line the console channel wrote (recipient and full text), oldest first. */
  outbox: string[]
  /** The last code sent to a contact, read from the console channel's log like a developer would. */
  lastCode(contact: string): string
}

/**
 * Builds the real app on a fresh migrated database (in-memory SQLite, or a PostgreSQL database of
 * its own when TEST_DATABASE=postgres); closed when the test ends.
 */
export async function buildTestApp(
  t: TestContext,
  options: {
    env?: Record<string, string>
    channels?: (log: FastifyInstance['log']) => Channel[] | Promise<Channel[]>
    /** Build the channels from the env like production does (e.g. pointed at fake providers). */
    channelsFromConfig?: boolean
    /** Start the in-process scheduler (off by default: tests start no timers unless they ask). */
    embeddedJobs?: boolean
    /** Shorter HTTP timeouts, for tests of slow clients. */
    timeouts?: AppDeps['timeouts']
    /** How organisation sign-in reaches providers (e.g. a fake Entra's fetch). */
    sso?: SsoNetwork
    /** Adds hooks before the routes load (e.g. one that holds a request at a known point). */
    instrument?: AppDeps['instrument']
  } = {},
): Promise<TestApp> {
  const clock = new TestClock()
  const outbox: string[] = []
  const database = await testDatabase()
  const config = testConfig({ ...database.env, ...options.env })
  let exchanges: ApiExchange[] = []
  const app = await buildApp(config, {
    clock,
    logger: { level: process.env.TEST_LOG_LEVEL ?? 'error' },
    channels: options.channelsFromConfig
      ? undefined
      : (options.channels ?? (() => [consoleChannel({ info: (line: string) => outbox.push(line) })])),
    embeddedJobs: options.embeddedJobs,
    timeouts: options.timeouts,
    sso: options.sso,
    instrument: (app) => {
      exchanges = recordApiExchanges(app)
      options.instrument?.(app)
    },
  })
  // Every answer the API gave in this test must match the OpenAPI document (server/testing/openapi-check.ts).
  t.after(() => {
    if (exchanges.length === 0) return
    const problems = checkApiExchanges(app.swagger(), exchanges)
    if (problems.length > 0)
      throw new Error(`API answers do not match /api/v1/openapi.json:\n${problems.join('\n')}`)
  })
  t.after(async () => {
    await app.close()
    await database.drop()
  })
  return {
    app,
    clock,
    config,
    outbox,
    lastCode(contact: string) {
      for (let i = outbox.length - 1; i >= 0; i--) {
        const line = outbox[i]!
        if (line.startsWith(`message to ${contact} `)) {
          const match = /code[^0-9]*is (\d{6})/.exec(line)
          if (match) return match[1]!
        }
      }
      throw new Error(`no code was sent to ${contact}; outbox: ${outbox.join('\n')}`)
    },
  }
}

/**
 * A browser for app.inject(): keeps cookies, reads the CSRF token from the last page, posts forms.
 */
export class TestBrowser {
  readonly cookies = new Map<string, string>()
  lastHtml = ''
  userAgent =
    'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1'

  constructor(
    readonly app: FastifyInstance,
    readonly ip = '203.0.113.10',
  ) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  }

  private keep(response: LightMyRequestResponse): void {
    for (const c of response.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired = c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now()) || c.value === ''
      if (expired) this.cookies.delete(c.name)
      else this.cookies.set(c.name, c.value)
    }
  }

  async request(options: InjectOptions): Promise<LightMyRequestResponse> {
    const response = await this.app.inject({
      remoteAddress: this.ip,
      ...options,
      headers: { 'user-agent': this.userAgent, cookie: this.cookieHeader(), ...(options.headers ?? {}) },
    })
    this.keep(response)
    if (String(response.headers['content-type'] ?? '').startsWith('text/html')) this.lastHtml = response.body
    return response
  }

  async get(url: string): Promise<LightMyRequestResponse> {
    return this.request({ method: 'GET', url })
  }

  /** Follows redirects on GET, as a browser does after Post/Redirect/Get. */
  async follow(response: LightMyRequestResponse): Promise<LightMyRequestResponse> {
    let current = response
    for (let i = 0; i < 5 && current.statusCode >= 300 && current.statusCode < 400; i++) {
      current = await this.get(String(current.headers.location))
    }
    return current
  }

  csrfToken(): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(this.lastHtml)
    if (!match) throw new Error('no CSRF token on the last page')
    return match[1]!
  }

  /** Posts a form with the CSRF token of the last page seen. */
  async post(
    url: string,
    fields: Record<string, string> = {},
    withCsrf = true,
  ): Promise<LightMyRequestResponse> {
    const body = new URLSearchParams({
      ...(withCsrf ? { _csrf: this.csrfToken() } : {}),
      ...fields,
    }).toString()
    return this.request({
      method: 'POST',
      url,
      payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
  }

  /**
   * Submits the form with this action on the last page seen, as a browser does: its hidden fields
   * (the CSRF token and any other) with the fields typed. Called twice, it is a double click.
   */
  async submit(action: string, typed: Record<string, string> = {}): Promise<LightMyRequestResponse> {
    const forms = [...this.lastHtml.matchAll(/<form\b[^>]*>[\s\S]*?<\/form>/g)].map((m) => m[0])
    const form = forms.find((f) => new RegExp(`\\baction="${action}"`).test(f))
    if (!form) throw new Error(`no form posting to ${action} on the last page`)
    const hidden: Record<string, string> = {}
    for (const input of form.matchAll(/<input\b[^>]*type="hidden"[^>]*>/g)) {
      const name = /\bname="([^"]+)"/.exec(input[0])?.[1]
      if (name) hidden[name] = /\bvalue="([^"]*)"/.exec(input[0])?.[1] ?? ''
    }
    return this.post(action, { ...hidden, ...typed }, false)
  }
}

/** Signs a new or known person in through the real pages; returns the browser holding the cookie. */
export async function loginAs(
  test: TestApp,
  contact: string,
  name: { firstName: string; lastName: string } = { firstName: 'Alice', lastName: 'Smith' },
  browser = new TestBrowser(test.app),
): Promise<TestBrowser> {
  await browser.get('/login')
  const sent = await browser.post('/login/code', { contact })
  if (sent.statusCode !== 303) throw new Error(`code request failed: ${sent.statusCode} ${sent.body}`)
  await browser.get('/login/verify')
  const shown = /sent a 6-digit code to <strong>(.+?)<\/strong>/.exec(browser.lastHtml)?.[1]
  const code = test.lastCode(shown ? shown.replace(/\s/g, '') : contact)
  let response = await browser.post('/login/verify', { code })
  if (response.statusCode === 422 && browser.lastHtml.includes('name="firstName"')) {
    response = await browser.post('/login/verify', { code, ...name })
  }
  if (response.statusCode !== 303 || response.headers.location !== '/') {
    throw new Error(`login failed: ${response.statusCode} ${response.body.slice(0, 500)}`)
  }
  await browser.follow(response)
  return browser
}
