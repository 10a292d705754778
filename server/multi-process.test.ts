import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect as connectTcp } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type TestContext, test } from 'node:test'
import { DateTime } from 'luxon'
import type { Db } from './db/connect.js'
import { insertDevice } from './identity/device.repository.js'
import { hashToken, newToken } from './identity/secrets.js'
import { noSchedules } from './testing/build-test-app.js'
import { openEventStream } from './testing/event-stream.js'
import { eventually } from './testing/eventually.js'
import { makePerson } from './testing/factories.js'
import { freePort, TestRedis } from './testing/redis-server.js'
import { sharedTestDatabase } from './testing/test-database.js'

/**
 * The production tier for real: two web processes and two workers, each a child process, on one
 * database (PostgreSQL in the PostgreSQL pass, a SQLite file in the SQLite pass) and one redis-server. Nothing here reaches into a process: only HTTP, the database
 * they share, and signals.
 */

/**
 * The database the processes share: a SQLite file in the SQLite pass, a fresh PostgreSQL database
 * (DATABASE_URL) in the PostgreSQL pass.
 */
async function sharedDatabase(t: TestContext): Promise<{ env: Record<string, string>; db: Db }> {
  const dir = mkdtempSync(join(tmpdir(), 'register-multi-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const shared = await sharedTestDatabase(t, join(dir, 'register.db'))
  // Their own data folder too (first-start secrets), never the checkout's.
  return { ...shared, env: { ...shared.env, DATA_DIR: dir } }
}

/** A child process running one of our entry points from source. */
class Child {
  output = ''
  readonly exited: Promise<unknown>
  constructor(
    readonly name: string,
    readonly process: ChildProcess,
  ) {
    process.stdout?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString()
    })
    process.stderr?.on('data', (chunk: Buffer) => {
      this.output += chunk.toString()
    })
    this.exited = once(process, 'exit')
  }

  static start(t: TestContext, name: string, entry: string, env: Record<string, string>): Child {
    const child = new Child(
      name,
      spawn(process.execPath, ['--import', 'tsx', entry], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    )
    t.after(() => child.stop())
    return child
  }

  /** SIGTERM, the way a platform stops a process; resolves once it has exited. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return
    this.process.kill('SIGTERM')
    await this.exited
  }

  /** kill -9: no goodbye, no graceful close. */
  async crash(): Promise<void> {
    this.process.kill('SIGKILL')
    await this.exited
  }
}

/** Polls until `check` is true (the thing it waits for is asynchronous in another process). */
const until = (what: string | (() => string), check: () => Promise<boolean> | boolean, ms = 60_000) =>
  eventually(check, what, ms)

/** A web process on a free port, ready (database and Redis reachable, live channel subscribed). */
/** A child process's settings: the shared database, every daily job off unless `extra` turns it on. */
const processEnv = (databaseEnv: Record<string, string>, extra: Record<string, string>) => ({
  ...databaseEnv,
  NODE_ENV: 'test',
  SESSION_SECRET: 'multi-process-secret-multi-process-secret-0123',
  PUBLIC_URL: 'http://register.test',
  ...noSchedules,
  ...extra,
})

async function startWeb(t: TestContext, name: string, env: Record<string, string>) {
  const port = await freePort()
  const child = Child.start(t, name, 'server/server.ts', { ...env, PORT: String(port), HOST: '127.0.0.1' })
  const base = `http://127.0.0.1:${port}`
  // A process starting from source (tsx) on a busy machine can take a while.
  await until(
    () => `${name} to be healthy:\n${child.output}`,
    async () => {
      if (child.process.exitCode !== null) throw new Error(`${name} exited:\n${child.output}`)
      const health = await fetch(`${base}/healthz`).then(
        (r) => r.json() as Promise<{ status: string }>,
        () => undefined,
      )
      return health?.status === 'ok'
    },
    180_000,
  )
  return { child, base }
}

/** A browser session of a signed-in person: device cookie, session cookie, CSRF from the last page. */
class PageSession {
  private readonly cookies = new Map<string, string>()
  private csrf = ''
  constructor(deviceToken: string) {
    this.cookies.set('br_device', deviceToken)
  }
  get cookie(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }
  private keep(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const at = pair!.indexOf('=')
      this.cookies.set(pair!.slice(0, at), pair!.slice(at + 1))
    }
  }
  async get(url: string): Promise<Response> {
    const response = await fetch(url, { headers: { cookie: this.cookie }, redirect: 'manual' })
    this.keep(response)
    const html = await response.clone().text()
    this.csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? this.csrf
    return response
  }
  async post(url: string, form: Record<string, string>, accept = 'text/html'): Promise<Response> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { cookie: this.cookie, 'content-type': 'application/x-www-form-urlencoded', accept },
      body: new URLSearchParams({ ...form, _csrf: this.csrf }),
      redirect: 'manual',
    })
    this.keep(response)
    return response
  }
}

/** A person with a device token (cookie for pages, bearer for the API), straight in the database. */
async function personWithToken(db: Db, n: number, role: 'staff' | 'reception' = 'staff') {
  const personId = await makePerson(db, {
    firstName: `Person${n}`,
    lastName: 'Test',
    email: `p${n}@example.org`,
    role,
  })
  const token = newToken()
  await insertDevice(db, {
    personId,
    kind: 'browser',
    tokenHash: hashToken(token),
    name: 'test',
    userAgent: 'test',
    at: Date.now(),
  })
  return { personId, token }
}

const tap = (base: string, token: string, action: 'sign-in' | 'sign-out', key?: string) =>
  fetch(`${base}/api/v1/${action}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...(key ? { 'idempotency-key': key } : {}),
    },
    body: '{}',
  })

test('two web processes and two workers on one database and one Redis behave as one', async (t) => {
  const redis = await TestRedis.start(t)
  const { env: databaseEnv, db } = await sharedDatabase(t)
  const staff: { personId: number; token: string }[] = []
  for (let n = 0; n < 24; n++) staff.push(await personWithToken(db, n))
  const reception = await personWithToken(db, 100, 'reception')

  const zone = 'UTC'
  const env = processEnv(databaseEnv, {
    LOG_LEVEL: 'warn',
    REDIS_URL: redis.url,
    TIME_ZONE: zone,
    RATE_LIMIT_PER_MINUTE: '1000',
    REMINDER_MAX_PER_MINUTE: '600',
  })
  const [a, b] = await Promise.all([startWeb(t, 'web A', env), startWeb(t, 'web B', env)])
  // The workers (two: the run must still happen once) remind at a whole minute that leaves them
  // time to start while the web processes are tested.
  const reminderAt = DateTime.now().setZone(zone).plus({ seconds: 150 }).startOf('minute')
  const workers = ['worker 1', 'worker 2'].map((name) =>
    Child.start(t, name, 'tasks/worker.ts', { ...env, REMINDER_TIME: reminderAt.toFormat('HH:mm') }),
  )

  await t.test('a tap on A reaches the reception stream open on B within a second', async () => {
    const streamOnB = await openEventStream(t, `${b.base}/reception/events`, `br_device=${reception.token}`)
    const from = streamOnB.events.length
    const response = await tap(a.base, staff[0]!.token, 'sign-in')
    const acknowledged = Date.now()
    assert.equal(response.status, 200)
    const event = await streamOnB.next((e) => e.event === 'presence', from, 1000)
    assert.ok(event, 'the presence change reached B')
    assert.ok(event.at - acknowledged < 1000)
  })

  await t.test('a roll-call mark, and a sign-out during the roll call, on B reach A', async () => {
    const leaver = await personWithToken(db, 200)
    assert.equal((await tap(a.base, leaver.token, 'sign-in')).status, 200)
    const desk = new PageSession(reception.token)
    await desk.get(`${b.base}/reception/roll-calls`)
    const started = await desk.post(`${b.base}/reception/roll-calls`, { kind: 'drill' })
    assert.equal(started.status, 303)
    const rollCallUrl = started.headers.get('location')!
    const rollCallId = Number(/\/(\d+)$/.exec(rollCallUrl)?.[1])
    await desk.get(`${b.base}${rollCallUrl}`)
    const streamOnA = await openEventStream(t, `${a.base}/reception/events`, desk.cookie)
    const from = streamOnA.events.length
    const marked = await desk.post(
      `${b.base}/reception/roll-calls/${rollCallId}/marks`,
      { person: String(staff[0]!.personId), status: 'safe' },
      'application/json',
    )
    assert.equal(marked.status, 200, await marked.clone().text())
    const event = await streamOnA.next(
      (e) => e.event === 'roll-call' && JSON.parse(e.data).id === rollCallId,
      from,
      1000,
    )
    assert.ok(event, 'the mark reached A')
    // Someone taps out on B during the alarm: A's marshals hear it, and A's page shows it.
    const beforeSignOut = streamOnA.events.length
    assert.equal((await tap(b.base, leaver.token, 'sign-out')).status, 200)
    assert.ok(
      await streamOnA.next((e) => e.event === 'presence', beforeSignOut, 1000),
      'the sign-out reached A',
    )
    const onA = await (await desk.get(`${a.base}${rollCallUrl}`)).text()
    assert.match(onA, /Person200 Test[\s\S]*?Signed out at \d\d:\d\d, during the alarm/)
    assert.match(onA, /<span class="count">1<\/span> not accounted for/, 'he still counts')
    await desk.post(`${b.base}/reception/roll-calls/${rollCallId}/end`, {})
  })

  await t.test('a rate limit of N allows N in total across both web processes', async () => {
    // Unknown pages are limited to 60 a minute per client: here one client (127.0.0.1, no token)
    // asks each process in turn.
    const statuses: number[] = []
    for (let i = 0; i < 35; i++) {
      for (const base of [a.base, b.base]) statuses.push((await fetch(`${base}/no-such-page-${i}`)).status)
    }
    assert.equal(statuses.filter((s) => s === 404).length, 60, statuses.join(' '))
    assert.equal(statuses.filter((s) => s === 429).length, 10)
  })

  await t.test('kill -9 of A in a burst of taps: no acknowledged tap lost, none applied twice', async () => {
    const burst = staff.slice(1)
    const acknowledged = new Set<number>()
    const sent = burst.map((person) =>
      tap(a.base, person.token, 'sign-in', `in-${person.personId}`).then(
        (response) => {
          if (response.status === 200) acknowledged.add(person.personId)
        },
        () => {},
      ),
    )
    // Mid-burst: as soon as the first answers arrive, A dies.
    await until('the first taps to be acknowledged', () => acknowledged.size > 0, 20_000)
    await a.child.crash()
    await Promise.all(sent)
    assert.ok(acknowledged.size < burst.length, 'A died before answering every tap')
    // The phones retry what was not acknowledged, on B, with the same keys (a claim A held while
    // it died is taken over once it is abandoned: 409 until then).
    for (const person of burst) {
      if (acknowledged.has(person.personId)) continue
      let last = ''
      await until(
        () => `person ${person.personId}'s retry to be answered (last: ${last})\n${b.child.output}`,
        async () => {
          const response = await tap(b.base, person.token, 'sign-in', `in-${person.personId}`)
          last = `${response.status} ${await response.text()}`
          // As the app does: wait as long as a 429 says, and a moment after a 409.
          const wait = response.status === 429 ? Number(response.headers.get('retry-after') ?? 1) * 1000 : 500
          if (response.status !== 200) await new Promise((resolve) => setTimeout(resolve, wait))
          return response.status === 200
        },
        90_000,
      )
    }
    const visits = await db
      .selectFrom('visit')
      .select(['person_id', 'signed_out_at'])
      .where(
        'person_id',
        'in',
        burst.map((p) => p.personId),
      )
      .execute()
    for (const person of burst) {
      const mine = visits.filter((v) => v.person_id === person.personId)
      assert.equal(mine.length, 1, `person ${person.personId} has exactly one visit`)
      assert.equal(mine[0]!.signed_out_at, null)
    }
  })

  await t.test(
    'the reminder run sends exactly one message per person, whatever the number of workers',
    async () => {
      const inside = 1 + (staff.length - 1)
      await until(
        'the reminders to be sent',
        async () => {
          const row = await db
            .selectFrom('reminder')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('status', '=', 'sent')
            .executeTakeFirstOrThrow()
          return Number(row.n) >= inside
        },
        reminderAt.toMillis() - Date.now() + 60_000,
      )
      const messages = await db
        .selectFrom('message')
        .select(['contact_value'])
        .where('purpose', '=', 'reminder')
        .execute()
      const perContact = new Map<string, number>()
      for (const m of messages) perContact.set(m.contact_value, (perContact.get(m.contact_value) ?? 0) + 1)
      assert.equal(perContact.size, inside, 'everyone inside was reminded')
      assert.deepEqual([...new Set(perContact.values())], [1], 'nobody twice')
    },
  )

  // `after` hooks run in the order they were added: stop the processes before their database goes.
  await Promise.all([a.child, b.child, ...workers].map((child) => child.stop()))
})

test('a web process told twice to stop, while a request holds its close, says so as JSON like every log line', async (t) => {
  const { env: databaseEnv } = await sharedDatabase(t)
  const { child, base } = await startWeb(t, 'web', processEnv(databaseEnv, { LOG_LEVEL: 'info' }))
  // A request whose body is still coming (a phone on a bad signal): the close waits for it. The
  // server's "100 Continue" says it has the request.
  const { hostname, port } = new URL(base)
  const socket = connectTcp(Number(port), hostname)
  t.after(() => socket.destroy())
  let answered = ''
  socket.on('data', (chunk: Buffer) => {
    answered += chunk.toString()
  })
  socket.write(
    'POST /api/v1/sign-in HTTP/1.1\r\nHost: register.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n',
  )
  await until('the request to be taken', () => answered.includes('100 Continue'))

  child.process.kill('SIGTERM')
  // The close has begun once the server takes no more requests.
  await until('the close to begin', () =>
    fetch(`${base}/healthz`).then(
      (r) => r.status === 503,
      () => true,
    ),
  )
  child.process.kill('SIGTERM')
  await child.exited

  const lines = child.output.split('\n').filter((line) => line.trim() !== '')
  const parsed = lines.map((line) => {
    try {
      return JSON.parse(line) as { msg?: string }
    } catch {
      return assert.fail(`a log line that is not JSON: ${line}\n${child.output}`)
    }
  })
  assert.ok(
    parsed.some((line) => /second SIGTERM/.test(line.msg ?? '')),
    `the second signal is logged:\n${child.output}`,
  )
})
