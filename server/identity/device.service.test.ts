import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../testing/build-test-app.js'
import { makePerson } from '../testing/factories.js'
import { authenticateToken, issueDevice } from './device.service.js'

const context = { ip: '127.0.0.1', userAgent: 'test' }

test('a device’s last use is recorded at most once a minute, also when many devices arrive at once', async (t) => {
  const { app, clock } = await buildTestApp(t)
  const { db } = app.ctx
  const issued: { personId: number; token: string }[] = []
  for (const name of ['Ann', 'Ben', 'Cat', 'Dan', 'Eve']) {
    const personId = await makePerson(db, { firstName: name, lastName: 'X', email: `${name}@example.org` })
    const { token } = await issueDevice(db, { personId, kind: 'browser', at: clock.now(), context })
    issued.push({ personId, token })
  }
  const lastUsed = async () =>
    (await db.selectFrom('device').select('last_used_at').orderBy('id').execute()).map((d) => d.last_used_at)
  const useAll = () => Promise.all(issued.map((d) => authenticateToken(db, d.token, clock.now())))

  // The morning after: every phone opens the app in the same moment.
  clock.advance(12 * 3_600_000)
  const found = await useAll()
  assert.deepEqual(
    found.map((f) => f?.person.id),
    issued.map((d) => d.personId),
  )
  const morning = clock.now()
  assert.deepEqual(
    await lastUsed(),
    issued.map(() => morning),
  )

  clock.advance(30_000)
  await useAll()
  assert.deepEqual(
    await lastUsed(),
    issued.map(() => morning),
    'used again within the minute: not rewritten',
  )

  clock.advance(31_000)
  await useAll()
  assert.deepEqual(
    await lastUsed(),
    issued.map(() => clock.now()),
  )
})
