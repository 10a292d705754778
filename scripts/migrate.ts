import { loadConfig } from '../server/config.js'
import { connect } from '../server/db/connect.js'
import { migrateToLatest, migrator } from '../server/db/migrate.js'

/**
 * `npm run migrate` applies every pending migration; `npm run migrate -- down` undoes the last one.
 * Heroku runs it as the release phase.
 */
const config = loadConfig()
const { db } = connect(config.DATABASE_PATH)
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
