import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { promisify } from 'node:util'
import { insertContact } from '../server/identity/contact.repository.js'
import { insertPerson } from '../server/identity/person.repository.js'
import { signIn } from '../server/register/register.service.js'
import { sharedTestDatabase } from '../server/testing/test-database.js'

const run = promisify(execFile)

async function cli(script: string, args: string[], dataDir: string, database: Record<string, string>) {
  return run(process.execPath, ['--import', 'tsx', join('scripts', script), ...args], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      ...database,
      SESSION_SECRET: 'cli-test-secret-cli-test-secret-0123456789',
      LOG_LEVEL: 'silent',
    },
  }).catch((error: { code: number; stdout: string; stderr: string }) => error)
}

test('the CLI: purge --dry-run prints what would go, send-reminders --dry-run lists who is due, auto-close closes', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'register-cli-'))
  t.after(() => rmSync(dataDir, { recursive: true, force: true }))
  const { env: database, db } = await sharedTestDatabase(t, join(dataDir, 'register.db'))
  const now = Date.now()
  const person = await insertPerson(db, {
    first_name: 'Alice',
    last_name: 'Smith',
    created_at: now,
    updated_at: now,
  })
  await insertContact(db, { personId: person.id, kind: 'email', value: 'alice@example.org', at: now })
  await signIn(
    db,
    { personId: person.id, now, context: { ip: '-', userAgent: 'test' } },
    { timeZone: 'Europe/London' },
  )
  await db
    .insertInto('audit_event')
    .values({ at: now - 40 * 24 * 3600_000, person_id: null, action: 'old', ip: '-', user_agent: '-' })
    .execute()

  const dry = await cli('purge.ts', ['--dry-run', '--days', '30'], dataDir, database)
  assert.match(dry.stdout, /Would remove \(retention 30 days, visitors 30 days\):/)
  assert.match(dry.stdout, /\s1 {2}audit_event: audit rows older than the retention period/)
  assert.match(dry.stdout, /Dry run: nothing was deleted\./)
  const bad = await cli('purge.ts', ['--days', 'soon'], dataDir, database)
  assert.equal((bad as { code?: number }).code, 2)
  assert.match(bad.stderr, /--days must be a whole number/)

  const due = await cli('send-reminders.ts', ['--dry-run'], dataDir, database)
  assert.match(
    due.stdout,
    /Would remind 1 person\(s\) still signed in on \d{4}-\d{2}-\d{2}:\n {2}Alice Smith/,
  )

  // With no provider configured, the messages sent are printed (the console channel).
  const sent = await cli('send-reminders.ts', [], dataDir, database)
  assert.match(sent.stdout, /message to alice@example\.org \(reminder\): .*still signed in.*\/r\/\w+/)
  assert.match(sent.stdout, /Reminders for \d{4}-\d{2}-\d{2}: sent: 1/)

  const closed = await cli('auto-close.ts', [], dataDir, database)
  assert.match(closed.stdout, /Auto-closed 1 open visit\(s\)\./)
  const again = await cli('send-reminders.ts', ['--dry-run'], dataDir, database)
  assert.match(again.stdout, /Would remind 0 person\(s\)/)
})
