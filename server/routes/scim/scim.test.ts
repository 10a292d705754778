import assert from 'node:assert/strict'
import { type TestContext, test } from 'node:test'
import fc from 'fast-check'
import { createIntegrationToken } from '../../identity/integration-token.service.js'
import { cliContext } from '../../identity/roles.service.js'
import { fireList, fireListSettings } from '../../reception/presence.service.js'
import { buildTestApp, loginAs, type TestApp } from '../../testing/build-test-app.js'
import { loginWithRole, personIdOf, scimTokenFor } from '../../testing/roles.js'

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User'
const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp'
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error'

async function setup(t: TestContext): Promise<{ test: TestApp; scim: Scim }> {
  const test = await buildTestApp(t)
  return { test, scim: scimClient(test, await scimTokenFor(test, 'Entra ID')) }
}

type Scim = (
  method: string,
  url: string,
  body?: unknown,
  token?: string,
) => Promise<{ status: number; json: ScimBody }>

/** The fields tests read from a SCIM answer (a User, a ListResponse or an Error). */
interface ScimBody {
  schemas: string[]
  id: string
  userName: string
  externalId?: string
  active: boolean
  name: { givenName: string; familyName: string; formatted: string }
  emails: { value: string }[]
  phoneNumbers: { value: string }[]
  totalResults: number
  Resources: ScimBody[]
  status: string
  scimType?: string
}

/** Speaks to /scim/v2 as a provisioning service does: bearer token, application/scim+json. */
function scimClient(test: TestApp, token: string): Scim {
  return async (method, url, body, otherToken) => {
    const response = await test.app.inject({
      method: method as 'GET',
      url: `/scim/v2${url}`,
      headers: {
        authorization: `Bearer ${otherToken ?? token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }),
      },
      payload: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    if (response.statusCode !== 204)
      assert.match(String(response.headers['content-type']), /^application\/scim\+json/)
    return { status: response.statusCode, json: response.body ? JSON.parse(response.body) : undefined }
  }
}

const filter = (userName: string) => `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`

test('Entra ID provisioning: the requests it sends, in its order', async (t) => {
  const { test, scim } = await setup(t)
  const userName = 'Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1'
  const config = await scim('GET', '/ServiceProviderConfig')
  assert.equal(config.status, 200)
  assert.deepEqual(config.json.schemas, ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'])
  // Does the user exist? No.
  const none = await scim('GET', filter(userName))
  assert.equal(none.status, 200)
  assert.deepEqual(none.json.Resources, [])
  assert.equal(none.json.totalResults, 0)

  const created = await scim('POST', '/Users', {
    schemas: [USER, 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
    userName,
    active: true,
    emails: [{ primary: true, type: 'work', value: 'Test_User_fd0ea19b@testuser.com' }],
    meta: { resourceType: 'User' },
    name: { formatted: 'Given Family', familyName: 'Family', givenName: 'Given' },
    roles: [],
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: 'Facilities' },
  })
  assert.equal(created.status, 201)
  assert.equal(created.json.userName, userName)
  assert.equal(created.json.active, true)
  assert.deepEqual(created.json.name, { givenName: 'Given', familyName: 'Family', formatted: 'Given Family' })
  assert.equal(created.json.emails[0]?.value, 'test_user_fd0ea19b@testuser.com')
  const id = created.json.id as string

  // Same userName again (any case): 409 uniqueness.
  const duplicate = await scim('POST', '/Users', { schemas: [USER], userName: userName.toUpperCase() })
  assert.equal(duplicate.status, 409)
  assert.deepEqual(duplicate.json.schemas, [ERROR])
  assert.equal(duplicate.json.scimType, 'uniqueness')
  assert.equal(duplicate.json.status, '409')

  const found = await scim('GET', filter(userName))
  assert.equal(found.json.totalResults, 1)
  assert.equal(found.json.Resources[0]?.id, id)

  const updated = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH],
    Operations: [
      { op: 'Add', path: 'emails[type eq "work"].value', value: 'updated.email@testuser.com' },
      { op: 'Replace', path: 'name.familyName', value: 'Updated' },
    ],
  })
  assert.equal(updated.status, 200)
  assert.equal(updated.json.name.familyName, 'Updated')
  assert.ok(updated.json.emails.some((e: { value: string }) => e.value === 'updated.email@testuser.com'))

  // Entra sends booleans as strings.
  const disabled = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  })
  assert.equal(disabled.status, 200)
  assert.equal(disabled.json.active, false)
  const person = await test.app.ctx.db
    .selectFrom('person')
    .selectAll()
    .where('id', '=', Number(id))
    .executeTakeFirstOrThrow()
  assert.notEqual(person.deactivated_at, null)

  assert.equal((await scim('DELETE', `/Users/${id}`)).status, 204)
  const gone = await scim('GET', `/Users/${id}`)
  assert.equal(gone.status, 404)
  assert.deepEqual(gone.json.schemas, [ERROR])
  // The person and their history stay; only the directory's hold on them is gone.
  assert.ok(
    await test.app.ctx.db.selectFrom('person').selectAll().where('id', '=', Number(id)).executeTakeFirst(),
  )
})

test('Okta provisioning: create, read, replace, deactivate with a boolean, reactivate', async (t) => {
  const { test, scim } = await setup(t)
  const none = await scim('GET', `${filter('john.doe@example.com')}&startIndex=1&count=100`)
  assert.equal(none.json.totalResults, 0)
  const created = await scim('POST', '/Users', {
    schemas: [USER],
    userName: 'john.doe@example.com',
    name: { givenName: 'John', familyName: 'Doe' },
    emails: [{ primary: true, value: 'john.doe@example.com', type: 'work' }],
    displayName: 'John Doe',
    locale: 'en-US',
    externalId: '00ujl29u0le5T6Aj10h7',
    groups: [],
    password: '1mz050nq',
    active: true,
  })
  assert.equal(created.status, 201)
  const id = created.json.id as string
  assert.equal((await scim('GET', `/Users/${id}`)).json.externalId, '00ujl29u0le5T6Aj10h7')

  const replaced = await scim('PUT', `/Users/${id}`, {
    schemas: [USER],
    id,
    userName: 'john.doe@example.com',
    name: { givenName: 'Johnny', familyName: 'Doe' },
    emails: [{ primary: true, value: 'john.doe@example.com', type: 'work' }],
    phoneNumbers: [{ type: 'mobile', value: '+44 7400 123456' }],
    active: true,
  })
  assert.equal(replaced.status, 200, JSON.stringify(replaced.json))
  assert.equal(replaced.json.name.givenName, 'Johnny')
  assert.equal(replaced.json.phoneNumbers[0]?.value, '+447400123456')

  const off = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH],
    Operations: [{ op: 'replace', value: { active: false } }],
  })
  assert.equal(off.json.active, false)
  const on = await scim('PATCH', `/Users/${id}`, {
    schemas: [PATCH],
    Operations: [{ op: 'replace', value: { active: true } }],
  })
  assert.equal(on.json.active, true)
  const person = await test.app.ctx.db
    .selectFrom('person')
    .selectAll()
    .where('id', '=', Number(id))
    .executeTakeFirstOrThrow()
  assert.equal(person.deactivated_at, null)
  const actions = (
    await test.app.ctx.db.selectFrom('audit_event').select('action').orderBy('id').execute()
  ).map((a) => a.action)
  assert.ok(actions.includes('directory.user-deactivated'))
  assert.ok(actions.includes('directory.user-reactivated'))
})

test('a leaver: devices revoked, open visit closed as not a real sign-out, history kept', async (t) => {
  const { test, scim } = await setup(t)
  const browser = await loginAs(test, 'leaver@example.org', { firstName: 'Lee', lastName: 'Ver' })
  await browser.post('/sign-in', { day: '2026-11-23' })
  const personId = await personIdOf(test, 'leaver@example.org')
  const fire = () => fireList(test.app.ctx.db, test.clock.now(), fireListSettings(test.config))
  assert.deepEqual(
    (await fire()).in.map((p) => p.personId),
    [personId],
  )

  // The directory takes over the existing person (same email), then deactivates them.
  const created = await scim('POST', '/Users', {
    schemas: [USER],
    userName: 'leaver@example.org',
    emails: [{ value: 'Leaver@example.org', primary: true }],
  })
  assert.equal(created.status, 201)
  assert.equal(created.json.id, String(personId))
  assert.equal(created.json.name.givenName, 'Lee', 'a linked person keeps their name')
  test.clock.advance(60_000)
  const off = await scim('PATCH', `/Users/${personId}`, {
    schemas: [PATCH],
    Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
  })
  assert.equal(off.status, 200)

  const home = await browser.get('/')
  assert.equal(home.statusCode, 303, 'their device no longer signs them in')
  assert.equal(home.headers.location, '/login')
  const visits = await test.app.ctx.db
    .selectFrom('visit')
    .selectAll()
    .where('person_id', '=', personId)
    .execute()
  assert.equal(visits.length, 1, 'history kept')
  assert.equal(visits[0]!.signed_out_at, test.clock.now())
  assert.equal(visits[0]!.closed_by, 'directory', 'closed by the directory, not as a sign-out')
  // Nobody saw them leave: the fire list keeps them, unconfirmed, as it does an auto-closed visit.
  const list = await fire()
  assert.deepEqual(list.in, [])
  assert.deepEqual(
    list.unconfirmed.map((p) => [p.personId, p.reason]),
    [[personId, { kind: 'auto-closed', at: test.clock.now(), byDirectory: true }]],
  )
  const { browser: admin } = await loginWithRole(test, 'hr@example.org', 'admin')
  const page = await admin.get(`/admin/people/${personId}`)
  assert.match(page.body, /closed by the directory \(left the organisation\)/)
  const board = await admin.get('/reception')
  assert.match(board.body, /closed by the directory \(left the organisation\) \d\d:\d\d, last tap/)
  const [row] = await test.app.ctx.db
    .selectFrom('audit_event')
    .selectAll()
    .where('action', '=', 'directory.user-deactivated')
    .execute()
  assert.equal(JSON.parse(row!.detail).closedVisitId, visits[0]!.id)
  assert.ok(JSON.parse(row!.detail).devicesRevoked >= 1)

  // The code login refuses them too.
  await browser.get('/login')
  await browser.post('/login/code', { contact: 'leaver@example.org' })
  await browser.get('/login/verify')
  const refused = await browser.post('/login/verify', { code: test.lastCode('leaver@example.org') })
  assert.equal(refused.statusCode, 403)
})

test('a wrong or missing token is a SCIM 401; an API token does not open SCIM', async (t) => {
  const { test, scim } = await setup(t)
  const wrong = await scim('GET', '/Users', undefined, 'not-a-token')
  assert.equal(wrong.status, 401)
  assert.deepEqual(wrong.json.schemas, [ERROR])
  assert.equal(wrong.json.status, '401')
  const apiToken = await createIntegrationToken(
    test.app.ctx.db,
    { personId: null, at: test.clock.now(), context: cliContext('test') },
    { name: 'Lobby', role: 'admin' },
  )
  assert.equal((await scim('GET', '/Users', undefined, apiToken.token)).status, 401)
  const bare = await test.app.inject({ method: 'GET', url: '/scim/v2/Users' })
  assert.equal(bare.statusCode, 401)
  assert.match(String(bare.headers['www-authenticate']), /^Bearer/)
})

test('malformed requests are SCIM 400s, never 500s', async (t) => {
  const { scim } = await setup(t)
  const cases: [string, string, unknown, string][] = [
    ['POST', '/Users', '{"userName": ', 'invalidSyntax'],
    ['POST', '/Users', { schemas: [USER] }, 'invalidSyntax'],
    ['POST', '/Users', { userName: 'x', active: 'maybe' }, 'invalidValue'],
    ['POST', '/Users', { userName: 'x', emails: 'nope' }, 'invalidSyntax'],
    ['GET', `/Users?filter=${encodeURIComponent('name.familyName co "x"')}`, undefined, 'invalidFilter'],
  ]
  for (const [method, url, body, scimType] of cases) {
    const answer = await scim(method, url, body)
    assert.equal(answer.status, 400, `${method} ${url} ${JSON.stringify(body)}`)
    assert.deepEqual(answer.json.schemas, [ERROR])
    assert.equal(answer.json.scimType, scimType)
  }
  const created = await scim('POST', '/Users', { userName: 'ok@example.org' })
  const id = created.json.id
  // A null character (PostgreSQL cannot store one) is refused wherever it is, before anything is read.
  for (const [method, url, body] of [
    ['POST', '/Users', { userName: 'nul@example.org', name: { givenName: 'A\u0000' } }],
    ['PATCH', `/Users/${id}`, { Operations: [{ op: 'replace', path: 'externalId', value: '\u0000' }] }],
    ['GET', `/Users?filter=${encodeURIComponent('userName eq "a\u0000"')}`, undefined],
  ] as const) {
    const answer = await scim(method, url, body)
    assert.equal(answer.status, 400, `${method} ${url}`)
    assert.deepEqual(answer.json.schemas, [ERROR])
    assert.match(String((answer.json as unknown as { detail: string }).detail), /null character/)
  }
  assert.equal((await scim('GET', '/Users')).json.totalResults, 1, 'nothing was created')
  const patches: unknown[] = [
    {},
    { Operations: [] },
    { Operations: [{ op: 'explode', path: 'active' }] },
    { Operations: [{ op: 'replace' }] },
    { Operations: [{ op: 'replace', path: 'active', value: 'perhaps' }] },
  ]
  for (const body of patches) {
    const answer = await scim('PATCH', `/Users/${id}`, body)
    assert.equal(answer.status, 400, JSON.stringify(body))
    assert.deepEqual(answer.json.schemas, [ERROR])
  }
  assert.equal((await scim('GET', '/Users/abc')).status, 404)
  assert.equal((await scim('GET', '/Users/999999')).status, 404)
  assert.equal(
    (await scim('PATCH', '/Users/999999', { Operations: [{ op: 'replace', path: 'active', value: false }] }))
      .status,
    404,
  )
})

test('admins create directory sync tokens and see what the directory changed', async (t) => {
  const test = await buildTestApp(t)
  const { browser } = await loginWithRole(test, 'admin@example.org', 'admin')
  await browser.get('/admin/directory')
  const made = await browser.post('/admin/directory/tokens', { name: 'Entra ID' })
  assert.equal(made.statusCode, 200)
  const token = /<code id="new-token">([^<]+)<\/code>/.exec(made.body)?.[1]
  assert.ok(token)
  assert.match(made.body, /http:\/\/register\.test\/scim\/v2/)
  const scim = scimClient(test, token)
  assert.equal(
    (
      await scim('POST', '/Users', {
        userName: 'new.starter@example.org',
        name: { givenName: 'New', familyName: 'Starter' },
      })
    ).status,
    201,
  )
  const page = await browser.get('/admin/directory')
  assert.match(page.body, /New Starter/)
  assert.match(page.body, /user created/)
  // Revoked: the directory is locked out at once.
  const id = /\/admin\/directory\/tokens\/(\d+)\/revoke/.exec(page.body)?.[1]
  await browser.follow(await browser.post(`/admin/directory/tokens/${id}/revoke`))
  assert.equal((await scim('GET', '/Users')).status, 401)
  // A staff member cannot reach the page.
  const staff = await loginAs(test, 'staff@example.org')
  assert.equal((await staff.get('/admin/directory')).statusCode, 403)
})

test('whatever a directory sends, the answer is a SCIM 2xx or 4xx, never a 500', async (t) => {
  const { scim } = await setup(t)
  const created = await scim('POST', '/Users', { userName: 'prop@example.org' })
  const id = created.json.id
  const value = fc.oneof(
    fc.string(),
    fc.boolean(),
    fc.integer(),
    fc.constant(null),
    fc.constantFrom('True', 'False'),
  )
  const user = fc.record(
    {
      userName: fc.oneof(fc.string({ maxLength: 300 }), value),
      active: value,
      name: fc.oneof(value, fc.record({ givenName: value, familyName: value }, { requiredKeys: [] })),
      emails: fc.oneof(
        value,
        fc.array(fc.record({ value, type: value, primary: value }, { requiredKeys: [] })),
      ),
    },
    { requiredKeys: [] },
  )
  const operation = fc.record(
    {
      op: fc.oneof(fc.constantFrom('add', 'Replace', 'remove'), fc.string()),
      path: fc.oneof(
        fc.constantFrom(
          'active',
          'userName',
          'name.givenName',
          'emails[type eq "work"].value',
          'phoneNumbers',
        ),
        fc.string(),
      ),
      value: fc.oneof(value, user),
    },
    { requiredKeys: ['op'] },
  )
  await fc.assert(
    fc.asyncProperty(user, fc.array(operation, { maxLength: 4 }), async (body, operations) => {
      for (const answer of [
        await scim('POST', '/Users', body),
        await scim('PUT', `/Users/${id}`, body),
        await scim('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations: operations }),
      ]) {
        assert.ok(answer.status < 500, JSON.stringify({ body, operations, answer: answer.json }))
        if (answer.status >= 400) assert.deepEqual(answer.json.schemas, [ERROR])
      }
    }),
    { numRuns: 60 },
  )
})
