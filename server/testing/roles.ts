import type { Role } from '../db/database.js'
import { findContactByValue } from '../identity/contact.repository.js'
import { createIntegrationToken } from '../identity/integration-token.service.js'
import { cliContext, setRole } from '../identity/roles.service.js'
import { loginAs, type TestApp, type TestBrowser } from './build-test-app.js'

/** The id of the person who owns a canonical contact. */
export async function personIdOf(test: TestApp, contact: string): Promise<number> {
  const row = await findContactByValue(test.app.ctx.db, contact)
  if (!row) throw new Error(`nobody has ${contact}`)
  return row.person_id
}

/** Gives a person a role as the command line would (no acting admin needed). */
export async function giveRole(test: TestApp, contact: string, role: Role): Promise<number> {
  const id = await personIdOf(test, contact)
  await setRole(
    test.app.ctx.db,
    { personId: null, at: test.clock.now(), context: cliContext('test') },
    id,
    role,
  )
  return id
}

/** Signs a person in through the real pages and gives them a role; returns their browser and id. */
export async function loginWithRole(
  test: TestApp,
  contact: string,
  role: Role,
  name = { firstName: 'Pat', lastName: role[0]!.toUpperCase() + role.slice(1) },
): Promise<{ browser: TestBrowser; id: number }> {
  const browser = await loginAs(test, contact, name)
  const id = role === 'staff' ? await personIdOf(test, contact) : await giveRole(test, contact, role)
  return { browser, id }
}

/** A person's API bearer token, through the real JSON login. */
export async function apiTokenFor(
  test: TestApp,
  contact: string,
  name = { firstName: 'Api', lastName: 'User' },
): Promise<string> {
  const ip = '198.51.100.7'
  const sent = await test.app.inject({
    method: 'POST',
    url: '/api/v1/auth/code',
    payload: { contact },
    remoteAddress: ip,
  })
  if (sent.statusCode !== 202) throw new Error(`code request failed: ${sent.body}`)
  const verified = await test.app.inject({
    method: 'POST',
    url: '/api/v1/auth/verify',
    payload: { contact, code: test.lastCode(contact), ...name },
    remoteAddress: ip,
  })
  if (verified.statusCode !== 200) throw new Error(`verify failed: ${verified.body}`)
  return verified.json().token
}

/** A directory sync (SCIM) token, as an admin makes one on /admin/directory. */
export async function scimTokenFor(test: TestApp, name = 'Directory'): Promise<string> {
  const { token } = await createIntegrationToken(
    test.app.ctx.db,
    { personId: null, at: test.clock.now(), context: cliContext('test') },
    { name },
    'scim',
  )
  return token
}
