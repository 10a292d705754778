// The benchmark's floor for taps: a bare Fastify server doing only a tap's SQL with hand-written,
// prepared statements — no security headers, rate limit, session, auth plugin or query builder.
// No real server can tap faster than this on the same machine; the app's taps are compared to it.
import { createHash } from 'node:crypto'
import Fastify from 'fastify'
import { openFloorDatabase } from './floor-sqlite.mjs'

const { sqlite, shared } = openFloorDatabase(process.env.FLOOR_DATABASE)
const sql = {
  device: sqlite.prepare(
    'select d.id, d.person_id from device d join person p on p.id = d.person_id where d.token_hash = ? and d.revoked_at is null and p.deactivated_at is null',
  ),
  open: sqlite.prepare('select * from visit where person_id = ? and signed_out_at is null'),
  signIn: sqlite.prepare(
    'insert into visit (person_id, signed_in_at) values (?, ?) on conflict (person_id) where signed_out_at is null do nothing returning *',
  ),
  signOut: sqlite.prepare(
    "update visit set signed_out_at = ?, closed_by = 'person', closed_at = ? where id = ? and signed_out_at is null returning *",
  ),
  audit: sqlite.prepare(
    'insert into audit_event (at, person_id, action, ip, user_agent, detail) values (?, ?, ?, ?, ?, ?)',
  ),
  webhook: sqlite.prepare(
    'insert into webhook_event (type, person_id, data, occurred_at) values (?, ?, ?, ?)',
  ),
  // A sign-in during an evacuation joins the running roll call (nothing to do when none runs).
  rollCall: sqlite.prepare(
    'insert into roll_call_person (roll_call_id, person_id, first_name, last_name, signed_in_at, confirmed, last_activity_at) select r.id, p.id, p.first_name, p.last_name, ?, 1, ? from roll_call r, person p where r.ended_at is null and p.id = ? on conflict (roll_call_id, person_id) do nothing',
  ),
  // A sign-out during an evacuation shows on the line of the visit it closed (nothing when none runs).
  rollCallSignOut: sqlite.prepare(
    'update roll_call_person set signed_out_at = ? where person_id = ? and signed_in_at = ? and roll_call_id in (select id from roll_call where ended_at is null) returning roll_call_id',
  ),
  inside: sqlite.prepare(
    'select (select sum(inside) from occupancy_slot) + (select count(*) from visitor where signed_out_at is null and signed_in_at is not null) as inside',
  ),
  outbox: sqlite.prepare("insert into outbox (topic, payload, created_at) values ('presence', ?, ?)"),
}

// Named: the bench's profile of the floor counts this as auth, as the app's token hashing is.
function tokenHash(token) {
  return createHash('sha256').update(token).digest('base64url')
}

const tap = (signIn) => async (request, reply) => {
  const token = /^Bearer\s+(\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? ''
  const device = sql.device.get(tokenHash(token))
  if (!device) return reply.code(401).send({ error: 'unknown token' })
  const now = Date.now()
  return shared(() => {
    const open = sql.open.get(device.person_id)
    if (signIn ? open : !open) return { present: signIn, changed: false }
    const visit = signIn ? sql.signIn.get(device.person_id, now) : sql.signOut.get(now, now, open.id)
    const action = signIn ? 'signed-in' : 'signed-out'
    const detail = JSON.stringify({ visitId: visit.id })
    sql.audit.run(now, device.person_id, `visit.${action}`, request.ip, String(request.headers['user-agent']), detail)
    sql.webhook.run(`visit.${signIn ? 'signed_in' : 'signed_out'}`, device.person_id, detail, now)
    if (signIn) sql.rollCall.run(now, now, device.person_id)
    else sql.rollCallSignOut.get(now, device.person_id, visit.signed_in_at)
    const { inside } = sql.inside.get()
    const payload = { personId: device.person_id, visitId: visit.id, action, at: now, inside }
    sql.outbox.run(JSON.stringify(payload), now)
    return { present: signIn, since: new Date(visit.signed_in_at).toISOString(), changed: true }
  })
}

const app = Fastify({ logger: false })
app.post('/api/v1/sign-in', tap(true))
app.post('/api/v1/sign-out', tap(false))
// For the bench's CPU profile of the floor (row 11), started as the app is: on PORT, waited for on
// /healthz, stopped with SIGINT (an exit, so that --cpu-prof writes its profile).
app.get('/healthz', async () => 'ok')
process.once('SIGINT', () => process.exit(0))
const address = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })
process.send?.({ address })
