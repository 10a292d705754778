import { parseArgs } from 'node:util'
import { recordAudit } from '../server/audit/audit.repository.js'
import type { Role } from '../server/db/database.js'
import { unitOfWork } from '../server/db/unit-of-work.js'
import { displayContact, parseContact } from '../server/identity/contact.js'
import { findContactByValue, insertContact } from '../server/identity/contact.repository.js'
import { parseName } from '../server/identity/person.js'
import { insertPerson } from '../server/identity/person.repository.js'
import { roles } from '../server/identity/roles.js'
import { listPrivileged } from '../server/identity/roles.repository.js'
import { cliContext, setRole } from '../server/identity/roles.service.js'
import { runCli, UsageError } from './cli.js'

const usage = `Usage:
  npm run roles -- grant <contact> admin|reception|staff [--name "First Last"]
  npm run roles -- revoke <contact>        (back to staff)
  npm run roles -- list

<contact> is an email address or mobile number, read as the login page reads it. If nobody has
signed in with it yet, give --name and the person is created with that contact (they sign in
later with a code as usual).`

/**
 * `npm run roles`: grant, revoke and list roles from the command line, so the first admin can be
 * made on a fresh install. Every change is audited as done from the command line.
 */
await runCli(async ({ config, db }) => {
  const { positionals, values } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  })
  const [command, contactText, roleText] = positionals
  if (values.help || !command) {
    process.stdout.write(`${usage}\n`)
    return
  }
  const context = cliContext(`npm run roles -- ${command}`)
  const now = Date.now()

  if (command === 'list') {
    const people = await listPrivileged(db)
    if (people.length === 0) process.stdout.write('Nobody has a role above staff yet.\n')
    for (const p of people) {
      const read = p.contact ? parseContact(p.contact, config.DEFAULT_PHONE_REGION) : undefined
      const contact = read?.ok ? displayContact(read.contact) : (p.contact ?? '(no contact)')
      process.stdout.write(
        `${p.role.padEnd(9)} #${String(p.id).padEnd(5)} ${p.first_name} ${p.last_name} <${contact}>${p.deactivated_at !== null ? ' (deactivated)' : ''}\n`,
      )
    }
    return
  }
  if (command !== 'grant' && command !== 'revoke')
    throw new UsageError(`Unknown command “${command}”.\n${usage}`)
  if (!contactText) throw new UsageError(`Give the person’s email address or mobile number.\n${usage}`)
  const parsed = parseContact(contactText, config.DEFAULT_PHONE_REGION)
  if (!parsed.ok) throw new UsageError(`${contactText}: ${parsed.message}`)
  const contact = parsed.contact
  const role: Role | undefined = command === 'revoke' ? 'staff' : roles.find((r) => r === roleText)
  if (!role) throw new UsageError(`Give a role: ${roles.join(', ')}.\n${usage}`)

  let personId = (await findContactByValue(db, contact.value))?.person_id
  if (personId === undefined) {
    if (command === 'revoke') throw new UsageError(`Nobody has signed in with ${displayContact(contact)}.`)
    if (!values.name) {
      throw new UsageError(
        `Nobody has signed in with ${displayContact(contact)} yet. Ask them to sign in once, or create them now:\n  npm run roles -- grant ${contactText} ${role} --name "First Last"`,
      )
    }
    const words = values.name.trim().split(/\s+/)
    const name = parseName(words.slice(0, -1).join(' ') || words[0], words.length > 1 ? words.at(-1) : '')
    if (!name.ok) throw new UsageError(`--name: give a first and a last name, e.g. --name "Ada Lovelace".`)
    personId = await unitOfWork(db, async (trx) => {
      const person = await insertPerson(trx, {
        first_name: name.firstName,
        last_name: name.lastName,
        created_at: now,
        updated_at: now,
        deactivated_at: null,
      })
      await insertContact(trx, { personId: person.id, kind: contact.kind, value: contact.value, at: now })
      await recordAudit(trx, {
        at: now,
        personId: person.id,
        action: 'person.created',
        context,
        detail: { via: 'cli' },
      })
      return person.id
    })
    process.stdout.write(`Created ${name.firstName} ${name.lastName} with ${displayContact(contact)}.\n`)
  }
  const person = await setRole(db, { personId: null, at: now, context }, personId, role)
  process.stdout.write(
    `${person.first_name} ${person.last_name} <${displayContact(contact)}> is now ${person.role}.\n`,
  )
})
