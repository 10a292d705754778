import { connect } from '../../server/db/connect.js'
import { migrateToLatest } from '../../server/db/migrate.js'
import { hashToken, newToken } from '../../server/identity/secrets.js'

/** People with tokens (usable as bearer tokens and as the device cookie), some of them inside. */
export interface Seeded {
  tokens: string[]
  inside: number
}

/**
 * Creates a throwaway database with `people` people, each holding one API device token, and
 * `inside` of them signed in now. Inserts in one transaction through better-sqlite3 directly: the
 * seed is not what is measured.
 */
export async function seed(path: string, people: number, inside: number, now = Date.now()): Promise<Seeded> {
  const { db, sqlite } = connect(path)
  await migrateToLatest(db)
  const tokens: string[] = []
  const person = sqlite.prepare(
    "insert into person (first_name, last_name, created_at, updated_at, role) values (?, ?, ?, ?, 'staff')",
  )
  const contact = sqlite.prepare(
    "insert into contact (person_id, kind, value, verified_at, created_at) values (?, 'email', ?, ?, ?)",
  )
  const device = sqlite.prepare(
    "insert into device (person_id, kind, token_hash, name, user_agent, created_at, last_used_at) values (?, 'api', ?, 'bench', 'bench', ?, ?)",
  )
  const visit = sqlite.prepare('insert into visit (person_id, signed_in_at) values (?, ?)')
  sqlite.transaction(() => {
    for (let i = 0; i < people; i++) {
      const id = Number(person.run(`First${i}`, `Last${String(i).padStart(5, '0')}`, now, now).lastInsertRowid)
      contact.run(id, `person${i}@bench.example`, now, now)
      const token = newToken()
      device.run(id, hashToken(token), now, now)
      tokens.push(token)
      if (i < inside) visit.run(id, now - 3_600_000)
    }
  })()
  await db.destroy()
  return { tokens, inside }
}
