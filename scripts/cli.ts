import { createWriteStream } from 'node:fs'
import { PassThrough, type Writable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { type Config, loadConfigOrExit } from '../server/config.js'
import type { Db } from '../server/db/connect.js'
import { openMigratedDatabase, SchemaBehindError } from '../server/db/migrate.js'
import { UserError } from '../server/lib/errors.js'

/** Shared plumbing for the command-line tools: config, a migrated database, errors, output. */
export async function runCli(main: (ctx: { config: Config; db: Db }) => Promise<void>): Promise<void> {
  let db: Db | undefined
  try {
    const config = loadConfigOrExit('See README.md, "Configuration", for every setting.')
    db = await openMigratedDatabase(config)
    await main({ config, db })
  } catch (error) {
    // Mistakes in the command are explained; anything else is a real failure with its stack.
    if (error instanceof UserError || error instanceof UsageError || error instanceof SchemaBehindError) {
      process.stderr.write(`${error.message}\n`)
      process.exitCode = error instanceof UsageError ? 2 : 1
    } else {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exitCode = 1
    }
  } finally {
    await db?.destroy()
  }
}

/** A mistake in how a command was called; printed with its usage and exit code 2. */
export class UsageError extends Error {}

/**
 * Where output goes: a file given with --out, or stdout. `write` fills the stream and ends it;
 * `done` resolves once everything is flushed.
 */
export function outputStream(path: string | undefined): { stream: Writable; done: () => Promise<void> } {
  if (path) {
    const file = createWriteStream(path)
    return { stream: file, done: () => finished(file) }
  }
  // stdout is never ended by us; a pass-through in front lets writers end their stream.
  const pass = new PassThrough()
  pass.pipe(process.stdout)
  return { stream: pass, done: () => finished(pass) }
}
