// The benchmark's floor for taps on PostgreSQL: a bare Fastify server doing only a tap's SQL on a
// pg pool, with named (prepared) statements — no headers, rate limit, session, auth plugin or query
// builder. Taps of one event-loop turn share one transaction, as the app's unit of work does.
import { createHash } from 'node:crypto'
import Fastify from 'fastify'
import pg from 'pg'

const pool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: 10 })
const q = (name, text) => (client, values) => client.query({ name, text, values }).then((r) => r.rows[0])
const sql = {
  device: q(
    'device',
    'select d.id, d.person_id from device d join person p on p.id = d.person_id where d.token_hash = $1 and d.revoked_at is null and p.deactivated_at is null',
  ),
  open: q('open', 'select * from visit where person_id = $1 and signed_out_at is null'),
  signIn: q(
    'signIn',
    'insert into visit (person_id, signed_in_at) values ($1, $2) on conflict (person_id) where signed_out_at is null do nothing returning *',
  ),
  signOut: q(
    'signOut',
    "update visit set signed_out_at = $1, closed_by = 'person', closed_at = $1 where id = $2 and signed_out_at is null returning *",
  ),
  audit: q(
    'audit',
    'insert into audit_event (at, person_id, action, ip, user_agent, detail) values ($1, $2, $3, $4, $5, $6)',
  ),
  webhook: q('webhook', 'insert into webhook_event (type, person_id, data, occurred_at) values ($1, $2, $3, $4)'),
  // A sign-in during an evacuation joins the running roll call (nothing to do when none runs).
  rollCall: q(
    'rollCall',
    'insert into roll_call_person (roll_call_id, person_id, first_name, last_name, signed_in_at, confirmed, last_activity_at) select r.id, p.id, p.first_name, p.last_name, $1::bigint, 1, $1::bigint from roll_call r, person p where r.ended_at is null and p.id = $2 on conflict (roll_call_id, person_id) do nothing',
  ),
  // A sign-out during an evacuation shows on the line of the visit it closed (nothing when none runs).
  rollCallSignOut: q(
    'rollCallSignOut',
    'update roll_call_person set signed_out_at = $1 where person_id = $2 and signed_in_at = $3 and roll_call_id in (select id from roll_call where ended_at is null) returning roll_call_id',
  ),
  inside: q(
    'inside',
    'select (select sum(inside) from occupancy_slot) + (select count(*) from visitor where signed_out_at is null and signed_in_at is not null) as inside',
  ),
  outbox: q('outbox', "insert into outbox (topic, payload, created_at) values ('presence', $1, $2)"),
}

let pending = []
async function commitBatch() {
  const batch = pending
  pending = []
  const client = await pool.connect()
  try {
    await client.query('begin')
    for (const job of batch) {
      try {
        job.resolve(await job.work(client))
      } catch (error) {
        job.reject(error)
      }
    }
    await client.query('commit')
  } finally {
    client.release()
  }
}
function shared(work) {
  return new Promise((resolve, reject) => {
    if (pending.length === 0) setImmediate(() => commitBatch().catch(() => {}))
    pending.push({ work, resolve, reject })
  })
}

const tap = (signIn) => async (request, reply) => {
  const token = /^Bearer\s+(\S+)$/.exec(request.headers.authorization ?? '')?.[1] ?? ''
  const device = await sql.device(pool, [createHash('sha256').update(token).digest('base64url')])
  if (!device) return reply.code(401).send({ error: 'unknown token' })
  const now = Date.now()
  return shared(async (client) => {
    const open = await sql.open(client, [device.person_id])
    if (signIn ? open : !open) return { present: signIn, changed: false }
    const visit = signIn ? await sql.signIn(client, [device.person_id, now]) : await sql.signOut(client, [now, open.id])
    const action = signIn ? 'signed-in' : 'signed-out'
    const detail = JSON.stringify({ visitId: visit.id })
    await sql.audit(client, [now, device.person_id, `visit.${action}`, request.ip, String(request.headers['user-agent']), detail])
    await sql.webhook(client, [`visit.${signIn ? 'signed_in' : 'signed_out'}`, device.person_id, detail, now])
    if (signIn) await sql.rollCall(client, [now, device.person_id])
    else await sql.rollCallSignOut(client, [now, device.person_id, visit.signed_in_at])
    const { inside } = await sql.inside(client, [])
    const payload = { personId: device.person_id, visitId: visit.id, action, at: now, inside }
    await sql.outbox(client, [JSON.stringify(payload), now])
    return { present: signIn, since: new Date(Number(visit.signed_in_at)).toISOString(), changed: true }
  })
}

const app = Fastify({ logger: false })
app.post('/api/v1/sign-in', tap(true))
app.post('/api/v1/sign-out', tap(false))
const address = await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ address })
