import { loadConfigOrExit } from '../server/config.js'
import { openDatabase } from '../server/db/connect.js'
import { migrateToLatest, migrator } from '../server/db/migrate.js'

/**
 * `npm run migrate` applies every pending migration; `npm run migrate -- down` undoes the last one.
 * Heroku runs it as the release phase. On PostgreSQL it connects as MIGRATION_DATABASE_URL (the
 * owner role) when set, else as DATABASE_URL.
 */
const config = loadConfigOrExit('See README.md, "Configuration", for every setting.')
const db = openDatabase({ ...config, DATABASE_URL: config.MIGRATION_DATABASE_URL ?? config.DATABASE_URL })
try {
  if (process.argv[2] === 'down') {
    const result = await migrator(db).migrateDown()
    if (result.error) throw result.error
    for (const r of result.results ?? []) console.log(`${r.direction} ${r.migrationName}: ${r.status}`)
  } else {
    const result = await migrateToLatest(db)
    const applied = result.results ?? []
    if (applied.length === 0) console.log('Database is up to date.')
    for (const r of applied) console.log(`${r.direction} ${r.migrationName}: ${r.status}`)
  }
} finally {
  await db.destroy()
}
