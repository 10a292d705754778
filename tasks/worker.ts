import closeWithGrace from 'close-with-grace'
import { buildApp } from '../server/app.js'
import { loadConfigOrExit } from '../server/config.js'
import { startQueues } from './queues.js'

/**
 * The worker entry (`npm run worker`): runs every scheduled task and delivery through BullMQ on
 * REDIS_URL. It builds the same app context as the web process (database, channels, keys) but
 * never listens. SIGTERM/SIGINT finish running jobs, then exit.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit('See docs/jobs.md for every setting.')
  if (!config.REDIS_URL) {
    console.error(
      'REDIS_URL is not set. Without Redis, `npm start` runs every job in the web process; set REDIS_URL to run them here.',
    )
    process.exit(1)
  }
  const app = await buildApp(config)
  await app.ready()
  const queues = await startQueues({ ...app.ctx, log: app.log }, { redisUrl: config.REDIS_URL })
  closeWithGrace({ delay: 30_000 }, async ({ err, signal }) => {
    if (err) app.log.error({ err }, 'worker stopping after an error')
    else app.log.info(`worker stopping (${signal ?? 'exit'})`)
    await queues.close()
    await app.close()
  })
  app.log.info(`worker running ${(await queues.tasks.getJobSchedulers()).length} schedule(s)`)
}

await main()
