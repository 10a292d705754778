import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'

/** The web entry point: config → app → listen, and a graceful close on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`${error.message}\nSee README.md, "Configuration", for every setting.`)
      process.exit(1)
    }
    throw error
  }
  const app = await buildApp(config, { embeddedJobs: true })
  closeWithGrace({ delay: 10_000 }, async ({ err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error')
    await app.close()
  })
  await app.listen({ host: config.HOST, port: config.PORT })
  app.log.info(`${config.SITE_NAME} is ready at ${config.PUBLIC_URL}`)
}

await main()
