import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { connect } from 'node:net'
import { test } from 'node:test'
import { buildTestApp } from './testing/build-test-app.js'
import { FakeTwilio } from './testing/fake-twilio.js'
import { loginWithRole } from './testing/roles.js'

/**
 * Sends one raw HTTP/1.1 request over a socket (app.inject cannot send an absolute-form target)
 * and resolves with the status code of the answer's first line, without waiting for the body
 * (event streams never end).
 */
function rawRequest(port: number, head: string, body = ''): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `${head}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      )
    })
    let received = ''
    socket.setTimeout(10_000, () => {
      socket.destroy()
      reject(new Error(`no answer to ${head.split('\r\n')[0]}`))
    })
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1')
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(received)
      if (status) {
        socket.destroy()
        resolve(Number(status[1]))
      }
    })
    socket.on('error', reject)
    socket.on('end', () => reject(new Error(`connection closed without an answer to ${head}`)))
  })
}

/** Request targets Node's HTTP parser accepts, in the shapes a client, proxy or scanner may send. */
function oddTargets(path: string): string[] {
  return [
    `http://register.test${path}`,
    `HTTP://REGISTER.TEST:80${path}?x=1`,
    `https://elsewhere.example${path}?%zz=%`,
    `http://register.test${path}#fragment`,
    `${path}?a=%ff%fe&b`,
    `${path}?`,
    `/${path}`,
    `${path};param`,
    `${path}%2F..%2F`,
    'http://register.test',
    '*',
  ]
}

test('every route answers odd but valid request lines with a 2xx/3xx/4xx, never a 5xx', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const ctx = await buildTestApp(t, {
    env: {
      ...twilio.env(),
      PUBLIC_URL: 'http://register.test:8080',
      RATE_LIMIT_PER_MINUTE: '1000000',
      ADMIN_CONTACTS: 'admin@example.org',
    },
  })
  const { browser: admin } = await loginWithRole(ctx, 'admin@example.org', 'admin')
  await admin.get('/profile')
  const cookie = [...admin.cookies].map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('; ')
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo

  const routes = ctx.app.routeList.flatMap((r) =>
    (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url })),
  )
  assert.ok(
    routes.some((r) => r.url === '/webhooks/twilio/status'),
    'the Twilio webhook is among the routes',
  )
  let sent = 0
  for (const { method, url: pattern } of routes) {
    if (method === 'HEAD' || method === 'OPTIONS') continue
    const path = pattern.replace(/:[A-Za-z_]+/g, '1').replace(/\*/g, 'x')
    for (const target of oddTargets(path)) {
      for (const who of ['', `\r\nCookie: ${cookie}`]) {
        const head = `${method} ${target} HTTP/1.1\r\nHost: register.test${who}\r\nX-Twilio-Signature: c2lnbmF0dXJl\r\nAuthorization: Bearer ${'A'.repeat(43)}\r\nContent-Type: application/x-www-form-urlencoded`
        const status = await rawRequest(port, head, method === 'GET' ? '' : 'a=1')
        assert.ok(status < 500, `${method} ${target}${who ? ' (signed in)' : ''} → ${status}`)
        sent++
      }
    }
  }
  assert.ok(sent > 100, `sent ${sent} requests`)
})

test('a signed Twilio status callback is accepted whatever the shape of its request target', async (t) => {
  const twilio = await FakeTwilio.start(t)
  const ctx = await buildTestApp(t, { env: twilio.env(), channelsFromConfig: true })
  const sent = await ctx.app.ctx.messenger.send({ kind: 'phone', value: '+447400123456' }, 'login-code', {
    code: '123456',
  })
  await ctx.app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = ctx.app.server.address() as AddressInfo
  const callback = twilio.statusCallback(sent.providerId!, 'delivered')
  const headers = Object.entries(callback.headers)
    .map(([k, v]) => `\r\n${k}: ${v}`)
    .join('')
  const status = await rawRequest(
    port,
    `POST http://register.test${callback.url} HTTP/1.1\r\nHost: register.test${headers}`,
    callback.payload,
  )
  assert.equal(status, 204)
  const row = await ctx.app.ctx.db
    .selectFrom('message')
    .select('status')
    .where('id', '=', sent.messageId!)
    .executeTakeFirstOrThrow()
  assert.equal(row.status, 'delivered')
})
