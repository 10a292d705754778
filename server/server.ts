import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { loadConfigOrExit } from './config.js'
import { exitIfSchemaBehind } from './db/migrate.js'

/** The web entry point: config → app → listen, and a graceful close on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('See README.md, "Configuration", for every setting.')
  const app = await buildApp(config, { embeddedJobs: true }).catch(exitIfSchemaBehind)
  // Its own messages ("second SIGTERM", "killed by timeout") as JSON log lines, like the app's.
  closeWithGrace({ delay: 10_000, logger: app.log }, async ({ err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    await app.close()
  })
  await app.listen({ host: config.HOST, port: config.PORT })
  app.log.info(`${config.SITE_NAME} is ready at ${config.PUBLIC_URL}`)
}

await main()
