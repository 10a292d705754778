// The benchmark's floor for the home page opened with the device cookie only (row 3a): a bare
// Fastify server doing only what such a page must — hash the token, read the device and its person,
// record the device's use (every device in the bench was last used long ago), read the person's
// open visit and the count inside, start an encrypted session holding a CSRF secret and send the
// page with its token — with hand-written prepared statements, libsodium called directly and the
// page as one template literal: no security headers, rate limit, auth plugin, query builder or
// template engine. No real server can serve that page faster on the same machine.
import { createHash } from 'node:crypto'
import Tokens from '@fastify/csrf'
import Fastify from 'fastify'
import sodium from 'sodium-native'
import { openFloorDatabase } from './floor-sqlite.mjs'

const { sqlite, shared } = openFloorDatabase(process.env.FLOOR_DATABASE)
const sql = {
  device: sqlite.prepare(
    'select d.id, d.person_id, d.last_used_at, p.first_name, p.last_name from device d join person p on p.id = d.person_id where d.token_hash = ? and d.revoked_at is null and p.deactivated_at is null',
  ),
  touch: sqlite.prepare('update device set last_used_at = ? where id = ? and last_used_at < ?'),
  open: sqlite.prepare('select * from visit where person_id = ? and signed_out_at is null'),
  inside: sqlite.prepare(
    'select (select sum(inside) from occupancy_slot) + (select count(*) from visitor where signed_out_at is null and signed_in_at is not null) as inside',
  ),
}

// Named: the bench's profile of the floor counts this as auth, as the app's token hashing is.
function tokenHash(token) {
  return createHash('sha256').update(token).digest('base64url')
}

// The session: a secret box of its JSON under a key of the process's own, as @fastify/secure-session's.
const key = Buffer.alloc(sodium.crypto_secretbox_KEYBYTES)
sodium.randombytes_buf(key)
function sealSession(data) {
  const message = Buffer.from(JSON.stringify(data))
  const nonce = Buffer.alloc(sodium.crypto_secretbox_NONCEBYTES)
  sodium.randombytes_buf(nonce)
  const box = Buffer.alloc(message.length + sodium.crypto_secretbox_MACBYTES)
  sodium.crypto_secretbox_easy(box, message, nonce, key)
  return encodeURIComponent(`${box.toString('base64')};${nonce.toString('base64')}`)
}
const tokens = new Tokens({ secretLength: 18 })

const escapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
// Named: the bench's profile of the floor counts these as page rendering (profile-load.ts).
function escapeChar(c) {
  return escapes[c]
}
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, escapeChar)
}
function pageDay(at) {
  return new Date(at).toISOString().slice(0, 10)
}
function pageTime(at) {
  return new Date(at).toISOString().slice(11, 16)
}

// The app's home page for someone signed in or out, as it renders it (same head, same parts).
function page({ person, visit, inside, csrf, now }) {
  const state = visit ? 'in' : 'out'
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
  <title>Signed ${state} · Building Register</title>
  <meta name="description" content="Sign in and out of the building with one tap, and see who is inside.">
  <meta name="color-scheme" content="light dark">
  <meta name="theme-color" content="#8e1b1b">
  <link rel="stylesheet" href="/static/app.css?v=Oa37gIcB6AGK">
  <link rel="icon" href="/static/icons/icon-192.png?v=EqQfMx2ipuOZ" type="image/png" sizes="192x192">
  <link rel="manifest" href="/manifest.webmanifest">
  <link rel="apple-touch-icon" href="/static/icons/apple-touch-icon.png?v=-tH8k--e866R">
  <script src="/static/queue.js?v=dMRbBCgHQXvO" defer></script>
  <script src="/static/app.js?v=EuzjIvAMhDuE" defer></script>
</head>
<body class="state-${state}">
  <a class="skip" href="#main">Skip to content</a>
  <header class="bar">
    <a class="brand" href="/">Building Register</a>
    <nav aria-label="Account">
      <a href="/profile">${escapeHtml(person.first_name)} ${escapeHtml(person.last_name)}</a>
    </nav>
  </header>
  <main id="main">
<section class="status" id="status" aria-live="polite" data-state="${state}" data-since="${visit ? visit.signed_in_at : ''}" data-rendered-at="${now}" data-person="${person.id}">
  <h1 class="state"><span class="dot" aria-hidden="true">${visit ? '●' : '○'}</span> You are <strong>signed ${state}</strong>${visit ? ` since ${pageTime(visit.signed_in_at)}` : ''}</h1>
</section>

<p id="sync-note" class="sync-note" role="status" hidden></p>

<form class="tap" method="post" action="/sign-${visit ? 'out' : 'in'}">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="day" value="${pageDay(now)}">
  <button class="big ${visit ? 'out' : 'in'}" type="submit">Sign ${visit ? 'out' : 'in'}</button>
</form>


<p class="inside">${inside} people are in the building.</p>

<p class="history-link"><a href="/history">Your visits</a> · <a href="/visitors">Invite a visitor</a></p>

<section class="card install" id="install" hidden>
  <h2>Install the app</h2>
  <p>Opens instantly, works offline.</p>
  <button class="button primary" id="install-button" type="button" hidden>Install</button>
  <p id="install-ios" hidden>On iPhone or iPad: tap the Share button, then “Add to Home Screen”.</p>
</section>
  </main>
</body>
</html>
`
}

const app = Fastify({ logger: false })
app.get('/', async (request, reply) => {
  const token = /(?:^|;\s*)br_device=([^;]+)/.exec(request.headers.cookie ?? '')?.[1] ?? ''
  const device = sql.device.get(tokenHash(token))
  if (!device) return reply.code(303).header('location', '/login').send()
  const now = Date.now()
  if (device.last_used_at < now - 60_000) await shared(() => sql.touch.run(now, device.id, now - 60_000))
  const visit = sql.open.get(device.person_id)
  const { inside } = sql.inside.get()
  const secret = tokens.secretSync()
  reply.header('set-cookie', `br_session=${sealSession({ _csrf: secret, __ts: Math.round(now / 1000) })}; Path=/; HttpOnly; SameSite=Lax`)
  reply.type('text/html; charset=utf-8')
  return page({ person: { id: device.person_id, ...device }, visit, inside, csrf: tokens.create(secret), now })
})
// For the bench's CPU profile of the floor (row 12), started as the app is: on PORT, waited for on
// /healthz, stopped with SIGINT (an exit, so that --cpu-prof writes its profile).
app.get('/healthz', async () => 'ok')
process.once('SIGINT', () => process.exit(0))
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.send?.({ address })
