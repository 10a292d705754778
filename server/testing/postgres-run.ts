import { closeTestServer, createTemplate, dropRunDatabases } from './test-database.js'

/**
 * scripts/test.sh's PostgreSQL steps: `setup` prints the name of a fresh migrated template for
 * this run (TEST_RUN_ID); `teardown` drops every database and role the run created.
 */
const command = process.argv[2]
try {
  if (command === 'setup') console.log(await createTemplate())
  else if (command === 'teardown') await dropRunDatabases()
  else throw new Error(`usage: postgres-run.ts setup|teardown (got ${command ?? 'nothing'})`)
} finally {
  await closeTestServer()
}
