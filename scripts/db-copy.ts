import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { SingleBar } from 'cli-progress'
import { connect, connectPostgres } from '../server/db/connect.js'
import { CopyRefused, copyDatabase } from '../server/db/copy.js'

/**
 * `npm run db:copy -- --from data/register.db --to "$DATABASE_URL"`: moves a SQLite register into
 * an empty, migrated PostgreSQL database (docs/database.md, "Moving from SQLite to PostgreSQL").
 */
const usage = 'usage: npm run db:copy -- --from data/register.db --to postgres://user:password@host/db'
const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' } } })
if (!values.from || !values.to || !/^postgres(ql)?:\/\//.test(values.to)) {
  console.error(usage)
  process.exit(2)
}
if (!existsSync(values.from)) {
  console.error(`There is no SQLite register at ${values.from}.`)
  process.exit(2)
}
const from = connect(values.from).db
const to = connectPostgres(values.to, { poolSize: 2 }).db
const bar = process.stdout.isTTY
  ? new SingleBar({ format: 'Copying {bar} {value}/{total} rows', hideCursor: true })
  : undefined
try {
  const copied = await copyDatabase(from, to, {
    onProgress: (done, total) => {
      if (!bar) return
      if (done === 0) bar.start(total, 0)
      else bar.update(done)
    },
  })
  bar?.stop()
  for (const t of copied) console.log(`${String(t.rows).padStart(9)}  ${t.table}  (checksum ${t.checksum})`)
  console.log(`Copied ${copied.length} tables; every row count and checksum matches.`)
} catch (error) {
  bar?.stop()
  if (!(error instanceof CopyRefused)) throw error
  console.error(error.message)
  process.exitCode = 1
} finally {
  await from.destroy()
  await to.destroy()
}
