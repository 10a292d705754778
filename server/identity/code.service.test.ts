import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../testing/build-test-app.js'
import { requestCode, verifyCode } from './code.service.js'
import { hashCode } from './secrets.js'

const context = { ip: '203.0.113.5', userAgent: 'test' }

test('codes are six CSPRNG digits stored only as a keyed hash bound to the contact', async (t) => {
  const ctx = await buildTestApp(t)
  const { identity, db } = ctx.app.ctx
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  const code = ctx.lastCode('a@example.org')
  assert.match(code, /^\d{6}$/)
  const row = await db.selectFrom('login_code').selectAll().executeTakeFirstOrThrow()
  assert.ok(!JSON.stringify(row).includes(code), 'the code itself is not stored')
  assert.equal(row.code_hash, hashCode(identity.codeKey, 'a@example.org', code))
  assert.notEqual(row.code_hash, hashCode(Buffer.alloc(32), 'a@example.org', code), 'the hash is keyed')
  assert.equal(row.expires_at - row.created_at, 10 * 60_000)
})

test('a new code for a contact kills the previous one', async (t) => {
  const ctx = await buildTestApp(t)
  const { identity, db } = ctx.app.ctx
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  const rows = await db.selectFrom('login_code').selectAll().orderBy('id').execute()
  assert.notEqual(rows[0]?.consumed_at, null)
  assert.equal(rows[1]?.consumed_at, null)
})

test('two concurrent verifications of one code produce one person and one success', async (t) => {
  const ctx = await buildTestApp(t)
  const { identity, db } = ctx.app.ctx
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  const code = ctx.lastCode('a@example.org')
  const attempt = () =>
    verifyCode(identity, {
      contact: 'a@example.org',
      code,
      firstName: 'A',
      lastName: 'B',
      purpose: 'login',
      context,
    })
  const results = await Promise.allSettled([attempt(), attempt(), attempt()])
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  assert.equal((await db.selectFrom('person').selectAll().execute()).length, 1)
})

test('email and phone belong to one person: a second contact is verified by its own code', async (t) => {
  const ctx = await buildTestApp(t)
  const { identity, db } = ctx.app.ctx
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  const { person } = await verifyCode(identity, {
    contact: 'a@example.org',
    code: ctx.lastCode('a@example.org'),
    firstName: 'A',
    lastName: 'B',
    purpose: 'login',
    context,
  })
  await requestCode(identity, {
    contact: '07400 123456',
    purpose: 'add-contact',
    personId: person.id,
    context,
  })
  const code = ctx.lastCode('+447400123456')
  await assert.rejects(
    verifyCode(identity, {
      contact: '07400123456',
      code,
      purpose: 'add-contact',
      personId: person.id + 1,
      context,
    }),
    (e: Error & { statusCode?: number }) => e.statusCode === 401,
    'a code sent for one person cannot attach the contact to another',
  )
  await verifyCode(identity, {
    contact: '07400123456',
    code,
    purpose: 'add-contact',
    personId: person.id,
    context,
  })
  const contacts = await db.selectFrom('contact').selectAll().where('person_id', '=', person.id).execute()
  assert.deepEqual(contacts.map((c) => c.value).sort(), ['+447400123456', 'a@example.org'])

  await requestCode(identity, { contact: '+447400123456', purpose: 'login', context })
  const again = await verifyCode(identity, {
    contact: '+447400123456',
    code: ctx.lastCode('+447400123456'),
    purpose: 'login',
    context,
  })
  assert.equal(again.person.id, person.id, 'logging in by phone finds the same person')
})

test('a deactivated person cannot verify, and the code is used up', async (t) => {
  const ctx = await buildTestApp(t)
  const { identity, db } = ctx.app.ctx
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  await verifyCode(identity, {
    contact: 'a@example.org',
    code: ctx.lastCode('a@example.org'),
    firstName: 'A',
    lastName: 'B',
    purpose: 'login',
    context,
  })
  await db.updateTable('person').set({ deactivated_at: ctx.clock.now() }).execute()
  await requestCode(identity, { contact: 'a@example.org', purpose: 'login', context })
  const code = ctx.lastCode('a@example.org')
  await assert.rejects(
    verifyCode(identity, { contact: 'a@example.org', code, purpose: 'login', context }),
    (e: Error & { statusCode?: number }) => e.statusCode === 403,
  )
  const row = await db.selectFrom('login_code').selectAll().orderBy('id', 'desc').executeTakeFirstOrThrow()
  assert.notEqual(row.consumed_at, null)
})
