import closeWithGrace from 'close-with-grace'
import { pino } from 'pino'
import { loadConfigOrExit } from '../server/config.js'
import { createContext } from '../server/context.js'
import { exitIfSchemaBehind } from '../server/db/migrate.js'
import { loggerOptions } from '../server/lib/logger.js'
import { startWebhookDelivery } from './deliver-webhooks.task.js'
import { startQueues } from './queues.js'

/**
 * The worker entry (`npm run worker`): runs every scheduled task and delivery through BullMQ on
 * REDIS_URL. It builds the same context as the web process (database, channels, keys, live
 * events) but no web app. SIGTERM/SIGINT finish running jobs, then exit.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('See docs/jobs.md for every setting.')
  if (!config.REDIS_URL) {
    console.error(
      'REDIS_URL is not set. Without Redis, `npm start` runs every job in the web process; set REDIS_URL to run them here.',
    )
    process.exit(1)
  }
  const log = pino(loggerOptions(config))
  const { context, close } = await createContext(config, log).catch(exitIfSchemaBehind)
  const queues = await startQueues({ ...context, log }, { redisUrl: config.REDIS_URL })
  // Outgoing webhooks are delivered from their database outbox by a loop here (leases make several workers safe).
  const webhooks = startWebhookDelivery({ ...context, log })
  // Its own messages ("second SIGTERM", "killed by timeout") as JSON log lines, like the worker's.
  closeWithGrace({ delay: 30_000, logger: log }, async ({ err, signal }) => {
    if (err) log.error({ err }, 'worker stopping after an error')
    else log.info(`worker stopping (${signal ?? 'exit'})`)
    await webhooks.stop()
    await queues.close()
    await close()
  })
  log.info(`worker running ${(await queues.tasks.getJobSchedulers()).length} schedule(s)`)
}

await main()
