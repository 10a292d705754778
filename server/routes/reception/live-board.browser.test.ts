import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, type TestContext, test } from 'node:test'
import type { Browser, Page, Route } from 'playwright-core'
import { tapForPerson } from '../../reception/presence.service.js'
import { buildTestApp, type TestApp, type TestBrowser } from '../../testing/build-test-app.js'
import { launchChromium } from '../../testing/chromium.js'
import { FlakyProxy } from '../../testing/flaky-proxy.js'
import {
  deskReceptionist,
  eventually,
  personWithRole,
  tapSignIn,
  tapSignOut,
} from '../../testing/reception.js'
import { TestRedis } from '../../testing/redis-server.js'
import { giveRole } from '../../testing/roles.js'

/**
 * The presence board at the assembly point, on bad signal: it must never say "Live" over a list
 * that misses a sign-in, and must catch up with whatever it missed once it can.
 */

let chromium: Browser
before(async () => {
  chromium = await launchChromium()
})
after(() => chromium.close())

/** The app listening on a free port, the desk (reception) and Amy (staff). */
async function setUp(t: TestContext, env: Record<string, string> = {}) {
  const ctx = await buildTestApp(t, { env })
  const desk = await deskReceptionist(ctx)
  const amy = await personWithRole(ctx, 'amy@example.org', { firstName: 'Amy', lastName: 'Clark' })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  return { ctx, desk, amy, port, origin: `http://127.0.0.1:${port}` }
}

/** A browser page signed in as the person (their device cookie), reporting script errors. */
async function pageAs(t: TestContext, who: TestBrowser, origin: string): Promise<Page> {
  const context = await chromium.newContext()
  t.after(() => context.close())
  await context.addCookies(
    [...who.cookies]
      .filter(([name]) => name === 'br_device')
      .map(([name, value]) => ({ name, value, url: origin })),
  )
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  t.after(() => assert.deepEqual(errors, [], 'no script errors'))
  return page
}

// The bits of the DOM the page functions below use (the project's TypeScript has no DOM library).
declare const document: {
  querySelector(selector: string): { textContent: string | null } | null
  body: { textContent: string | null }
}

const statusIs = (page: Page, start: string, timeout = 20_000) =>
  page.waitForFunction(
    (start) => document.querySelector('[data-live-status]')?.textContent?.startsWith(start),
    start,
    { timeout },
  )
/**
 * Opens the board and waits until it is live and has made the refresh it makes on connecting, so
 * nothing the test does next is picked up by that refresh.
 */
async function openBoard(page: Page, url: string): Promise<void> {
  const refreshed = page.waitForResponse((r) => r.request().headers()['x-live-refresh'] === '1')
  await page.goto(url)
  await statusIs(page, 'Live')
  await refreshed
}

const amyShown = (page: Page) => page.waitForSelector('text=Amy Clark', { timeout: 20_000 })

/** The app on a real redis-server, subscribed, and the desk's board open and live on it. */
async function boardOnRedis(t: TestContext) {
  const redis = await TestRedis.start(t)
  const set = await setUp(t, { REDIS_URL: redis.url })
  await eventually(
    async () => (await set.ctx.app.inject({ method: 'GET', url: '/healthz' })).json().redis === 'ok',
    'the process to be subscribed',
  )
  const page = await pageAs(t, set.desk.browser, set.origin)
  await openBoard(page, `${set.origin}/reception`)
  return { ...set, redis, page }
}

test('on Redis, a board whose process stops hearing the others says so, and shows the sign-in it missed once the process hears again', async (t) => {
  const { redis, ctx, desk, amy, page } = await boardOnRedis(t)

  await redis.stop()
  await statusIs(page, 'Reconnecting… showing the list as of')
  // Another web process signs Amy in: in the shared database, its announcement lost with Redis.
  await tapForPerson(
    ctx.app.ctx.db,
    {
      personId: desk.id,
      at: ctx.clock.now(),
      context: { ip: '192.0.2.1', userAgent: 'another web process' },
      subjectId: amy.id,
      action: 'sign-in',
    },
    { timeZone: ctx.config.TIME_ZONE },
  )
  await redis.restart()
  await amyShown(page)
  await statusIs(page, 'Live')
})

test('on Redis, a refresh answered after the process stopped hearing the others still says the board is not live', async (t) => {
  const { redis, amy, page } = await boardOnRedis(t)

  // Amy's sign-in asks the board to refresh; the answer reaches the phone only once Redis is gone.
  let release = () => {}
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  let asked = false
  await page.route(
    (url) => url.pathname === '/reception',
    async (route) => {
      if (!route.request().headers()['x-live-refresh']) return route.continue()
      asked = true
      const response = await route.fetch()
      await held
      await route.fulfill({ response })
    },
  )
  await tapSignIn(amy.browser)
  await eventually(() => asked, 'the refresh for Amy’s sign-in')
  await redis.stop()
  await statusIs(page, 'Reconnecting… showing the list as of')
  release()
  await amyShown(page)
  // A fresher list, but changes made on other processes are still not heard: not "Updated 10:02".
  assert.match(
    (await page.locator('[data-live-status]').first().textContent()) ?? '',
    /^Reconnecting… showing the list as of \d/,
  )
})

test('an answer to an earlier refresh that comes back late never replaces a newer list', async (t) => {
  const { ctx, desk, amy, origin } = await setUp(t)
  const ben = await personWithRole(ctx, 'ben@example.org', { firstName: 'Ben', lastName: 'Hughes' })
  const page = await pageAs(t, desk.browser, origin)
  await openBoard(page, `${origin}/reception`)

  // The refresh Ben's sign-in causes is answered by the server at once (a list without Amy), but
  // the answer reaches the phone only after the refresh Amy's sign-in causes.
  let held: { route: Route; response: Awaited<ReturnType<Route['fetch']>> } | undefined
  await page.route(
    (url) => url.pathname === '/reception',
    async (route) => {
      if (held || !route.request().headers()['x-live-refresh']) return route.continue()
      held = { route, response: await route.fetch() }
    },
  )
  await tapSignIn(ben.browser)
  await eventually(() => held !== undefined, "the refresh for Ben's sign-in")
  await tapSignIn(amy.browser)
  await amyShown(page)
  await page.waitForSelector('text=Ben Hughes')
  await held!.route.fulfill({ response: held!.response })
  // The stale answer, if it were used, replaces the list within moments of arriving.
  const lost = await page
    .waitForFunction(() => !document.body.textContent?.includes('Amy Clark'), null, { timeout: 3000 })
    .then(
      () => true,
      () => false,
    )
  assert.equal(lost, false, 'Amy stays on the board')
})

test('a refresh that fails while the stream stays open is tried again, so the change that asked for it still shows', async (t) => {
  const { desk, amy, origin } = await setUp(t)
  const page = await pageAs(t, desk.browser, origin)
  await openBoard(page, `${origin}/reception`)
  let failed = 0
  await page.route(
    (url) => url.pathname === '/reception',
    async (route) => {
      if (failed > 0 || !route.request().headers()['x-live-refresh']) return route.continue()
      failed++
      await route.fulfill({ status: 502, body: 'Bad Gateway' })
    },
  )
  await tapSignIn(amy.browser)
  await amyShown(page)
  assert.equal(failed, 1, "the first refresh after Amy's sign-in failed")
  await statusIs(page, 'Live')
})

test('a stream that goes silent without closing (bad signal) is replaced within a minute, and the board catches up', async (t) => {
  const { desk, amy, port } = await setUp(t)
  const proxy = await FlakyProxy.start(t, port)
  const page = await pageAs(t, desk.browser, proxy.origin)
  let streams = 0
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/reception/events') streams++
  })
  await page.clock.install()
  await openBoard(page, `${proxy.origin}/reception`)
  assert.equal(proxy.silence('GET /reception/events'), 1, 'the open stream goes silent')
  await tapSignIn(amy.browser)

  await page.clock.runFor(70_000)
  await eventually(
    () => streams === 2,
    () => `a second stream (${streams} opened)`,
  )
  await statusIs(page, 'Live')
  await page.clock.runFor(1000)
  await amyShown(page)
})

test('a reconnect answered 502 (a proxy while the server restarts) does not leave the board off live for good', async (t) => {
  const { desk, amy, port } = await setUp(t)
  const proxy = await FlakyProxy.start(t, port)
  const page = await pageAs(t, desk.browser, proxy.origin)
  await page.clock.install()
  await openBoard(page, `${proxy.origin}/reception`)

  proxy.badGateway()
  await statusIs(page, 'Reconnecting… showing the list as of')
  await tapSignIn(amy.browser)
  // The page tries again within 5 s, is answered 502, and the browser gives up on that stream.
  await page.clock.runFor(5000)
  await eventually(
    () => proxy.badGateways.some((line) => line.startsWith('GET /reception/events')),
    'the reconnect to be refused',
  )
  proxy.pass()
  // The next try, 10 s later at most.
  await page.clock.runFor(10_000)
  await statusIs(page, 'Live', 30_000)
  await amyShown(page)
})

/** The status line as it is now (read from outside the page: its own timers may be paused). */
const statusNow = async (page: Page) => (await page.textContent('[data-live-status]')) ?? ''
const statusBecomes = (page: Page, start: string) =>
  eventually(async () => (await statusNow(page)).startsWith(start), `the status to start with "${start}"`)

test('a refresh the server answers with an error (5xx) says so, as distinct from no network (Offline), and both are tried again', async (t) => {
  const { desk, amy, origin } = await setUp(t)
  const page = await pageAs(t, desk.browser, origin)
  await page.clock.install()
  await openBoard(page, `${origin}/reception`)
  let refreshes = 0
  await page.route(
    (url) => url.pathname === '/reception',
    async (route) => {
      if (!route.request().headers()['x-live-refresh']) return route.continue()
      refreshes++
      if (refreshes === 1) return route.fulfill({ status: 503, body: 'Service Unavailable' })
      if (refreshes === 2) return route.abort('internetdisconnected')
      return route.continue()
    },
  )
  await tapSignIn(amy.browser)
  await statusBecomes(page, 'Server error · ')
  assert.match(await statusNow(page), /^Server error · showing the list as of \d\d:\d\d, retrying$/)
  await page.clock.runFor(5000)
  await statusBecomes(page, 'Offline · ')
  assert.match(await statusNow(page), /^Offline · showing the list as of \d\d:\d\d$/)
  await page.clock.runFor(5000)
  await statusBecomes(page, 'Live')
  await amyShown(page)
})

declare const window: { dispatchEvent(event: unknown): void }
declare const Event: new (type: string) => unknown

/** What the page records of each event stream it opened (see streamLog): by the page's own clock. */
interface StreamRecord {
  at: number
  failedAt: number | null
}
/**
 * Records, in the page, when each event stream was opened and when it first failed, by the page's
 * clock (faked by the test). The record's error listener runs just before the page's own.
 */
const streamLog = `(() => {
  const Native = window.EventSource
  window.streamLog = []
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args)
      const record = { at: Date.now(), failedAt: null }
      window.streamLog.push(record)
      this.addEventListener('error', () => { record.failedAt ??= Date.now() })
    }
  }
})()`

test('while the server is away the board tries its stream again after 5, 10, 20, then every 30 s (a little less at random), says the server had an error, and once a stream opens is Live and starts again from 5 s', async (t) => {
  const { desk, amy, port } = await setUp(t)
  const proxy = await FlakyProxy.start(t, port)
  const page = await pageAs(t, desk.browser, proxy.origin)
  await page.addInitScript(streamLog)
  await page.clock.install()
  await openBoard(page, `${proxy.origin}/reception`)
  // From here the page's time moves only when the test moves it.
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000)
  const streams = async () => (await page.evaluate('window.streamLog')) as StreamRecord[]
  /** Moves the page's clock a second at a time until stream `n` (from 0) has opened and failed. */
  const failed = async (n: number): Promise<StreamRecord> => {
    for (let moved = 0; (await streams()).length <= n; moved += 1000) {
      assert.ok(moved <= 40_000, `stream ${n} opened within 40 s of the page's time`)
      await page.clock.runFor(1000)
    }
    await eventually(async () => (await streams())[n]!.failedAt !== null, `stream ${n} to fail`)
    return (await streams())[n]!
  }
  /** How long the page waited after stream `n` failed before opening the next. */
  const waitAfter = async (n: number) => (await failed(n + 1)).at - (await failed(n)).failedAt!

  assert.equal((await streams()).length, 1, 'one stream open')
  proxy.badGateway()
  const waits: number[] = []
  for (let n = 0; n < 6; n++) waits.push(await waitAfter(n))
  const bases = [5000, 10_000, 20_000, 30_000, 30_000, 30_000]
  for (const [i, base] of bases.entries()) {
    assert.ok(
      waits[i]! >= 0.75 * base && waits[i]! <= base,
      `wait ${i + 1} (${waits[i]} ms) is ${base} ms, or a little less; every wait: ${waits.join(', ')}`,
    )
  }
  assert.ok(
    waits.some((wait, i) => wait !== bases[i]),
    `jittered, so boards do not all reconnect at once: ${waits.join(', ')}`,
  )
  assert.ok(
    proxy.badGateways.filter((line) => line.startsWith('GET /reception/events')).length >= 6,
    'each reconnect was refused',
  )
  await statusBecomes(page, 'Server error · ')
  assert.match(await statusNow(page), /^Server error · showing the list as of \d\d:\d\d, retrying$/)

  // The phone says it is back online: no need to wait out the 30 s.
  const before = (await streams()).length
  await page.evaluate(() => window.dispatchEvent(new Event('online')))
  await eventually(async () => (await streams()).length === before + 1, 'a stream opened at once')

  // The server is back: within 30 s the board is live, and catches up with what it missed.
  await failed(before)
  await tapSignIn(amy.browser)
  proxy.pass()
  for (let moved = 0; !(await statusNow(page)).startsWith('Live'); moved += 1000) {
    assert.ok(moved <= 31_000, `live again within 30 s of the page's time (${await statusNow(page)})`)
    await page.clock.runFor(1000)
  }
  await page.clock.runFor(1000)
  await amyShown(page)

  // Away again: the first try is after 5 s again, not 30.
  const open = (await streams()).length - 1
  proxy.badGateway()
  const again = await waitAfter(open)
  assert.ok(again >= 3750 && again <= 5000, `the first reconnect after a stream opened waits ${again} ms`)
})

test('a steady stream of changes does not put off the refresh for as long as it lasts', async (t) => {
  const { desk, amy, origin } = await setUp(t)
  const page = await pageAs(t, desk.browser, origin)
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('Network.enable')
  let received = 0
  cdp.on('Network.eventSourceMessageReceived', (message) => {
    if (message.eventName === 'presence') received++
  })
  let refreshes = 0
  page.on('request', (request) => {
    if (request.headers()['x-live-refresh']) refreshes++
  })
  await page.clock.install()
  await openBoard(page, `${origin}/reception`)
  // From here the page's time moves only when the test moves it.
  await page.clock.pauseAt((await page.evaluate(() => Date.now())) + 1000)
  await page.clock.runFor(1000)
  const before = refreshes

  // Changes 300 ms apart, each sooner than the 400 ms the page waits to gather them.
  for (let i = 0; i < 5; i++) {
    await (i % 2 === 0 ? tapSignIn : tapSignOut)(amy.browser)
    await eventually(() => received === i + 1, `change ${i + 1} to reach the page`)
    await page.clock.runFor(300)
  }
  await eventually(() => refreshes > before, 'a refresh while the changes keep coming')
})

for (const { what, status, cut } of [
  {
    what: 'signed out (its device revoked)',
    status: 'Signed out',
    cut: (ctx: TestApp, deskId: number) =>
      ctx.app.ctx.db
        .updateTable('device')
        .set({ revoked_at: ctx.clock.now() })
        .where('person_id', '=', deskId)
        .execute(),
  },
  {
    what: 'no longer reception (made staff)',
    status: 'No longer allowed to see this list',
    cut: (ctx: TestApp) => giveRole(ctx, 'desk@example.org', 'staff'),
  },
]) {
  test(`a board whose phone is ${what} says so and stops reconnecting, instead of "Reconnecting…" for ever`, async (t) => {
    const { ctx, desk, amy, origin } = await setUp(t)
    const page = await pageAs(t, desk.browser, origin)
    let streams = 0
    page.on('request', (request) => {
      if (new URL(request.url()).pathname === '/reception/events') streams++
    })
    await page.clock.install()
    await openBoard(page, `${origin}/reception`)
    // An admin acts on the desk phone (lost at the assembly point); the next change ends its stream.
    await cut(ctx, desk.id)
    await tapSignIn(amy.browser)
    await statusIs(page, status, 30_000)
    assert.match(
      (await page.textContent('[data-live-status]')) ?? '',
      /· showing the list as of .+\. Sign in again to see changes\.$/,
    )
    // Half a minute of the page's time later: no stream opened again, nothing polled.
    const opened = streams
    let refreshes = 0
    page.on('request', (request) => {
      if (request.headers()['x-live-refresh']) refreshes++
    })
    await page.clock.runFor(35_000)
    assert.deepEqual({ streams: streams - opened, refreshes }, { streams: 0, refreshes: 0 })
  })
}
