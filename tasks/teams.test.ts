import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp } from '../server/testing/build-test-app.js'
import { FakeTeams } from '../server/testing/fake-teams.js'
import { apiTokenFor } from '../server/testing/roles.js'
import { inProcessSlackDelivery } from './deliver-slack.task.js'
import { occupancyDigest } from './occupancy-digest.task.js'
import { relayOutbox } from './relay-outbox.task.js'

test('Teams gets the same sign-in posts and digest as Slack, as Adaptive Cards', async (t) => {
  const teams = await new FakeTeams().start()
  t.after(() => teams.stop())
  const ctx = await buildTestApp(t, {
    env: {
      TEAMS_WEBHOOK_URLS: teams.url('/workflows/everything'),
      TEAMS_DIGEST_WEBHOOK_URLS: teams.url('/workflows/digest'),
      SITE_NAME: 'Head Office',
    },
  })
  const task = { ...ctx.app.ctx, log: ctx.app.log }
  const token = await apiTokenFor(ctx, 'ada@example.org', { firstName: 'Ada', lastName: 'Lovelace' })
  const signIn = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/sign-in',
    headers: { authorization: `Bearer ${token}` },
  })
  assert.equal(signIn.statusCode, 200)
  await occupancyDigest(task)
  await relayOutbox(task, inProcessSlackDelivery(task))

  assert.deepEqual(teams.refused, [], 'every payload has the shape Teams accepts')
  assert.deepEqual(
    teams.posts.map((p) => [p.path, p.texts]),
    [
      ['/workflows/everything', ['Head Office', 'Ada Lovelace signed in · 1 person in the building']],
      ['/workflows/digest', ['Head Office', '1 person in the building']],
    ],
  )
  await relayOutbox(task, inProcessSlackDelivery(task))
  assert.equal(teams.posts.length, 2, 'each event posted once')
})
