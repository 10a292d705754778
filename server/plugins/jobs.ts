import fp from 'fastify-plugin'
import { type EmbeddedJobs, startEmbeddedJobs } from '../../tasks/embedded.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The in-process scheduler when this process runs the jobs itself (no REDIS_URL), else null. */
    embeddedJobs: EmbeddedJobs | null
  }
}

/**
 * The embedded default: with no REDIS_URL the web process runs every scheduled task itself
 * (croner, TIME_ZONE) and delivers Slack posts from the outbox. Off unless asked for, so tests
 * and the worker never start timers; stopped when the app closes.
 */
export default fp(
  async (app, options: { enabled: boolean }) => {
    const enabled = options.enabled && !app.ctx.config.REDIS_URL
    const jobs = enabled ? startEmbeddedJobs({ ...app.ctx, log: app.log }, app.ctx.events) : null
    app.decorate('embeddedJobs', jobs)
    if (jobs) {
      app.addHook('onClose', async () => jobs.stop())
      app.log.info('background jobs run in this process (no REDIS_URL)')
    } else if (options.enabled) {
      app.log.info('REDIS_URL is set: background jobs run in the worker (npm run worker)')
    }
  },
  { name: 'jobs', dependencies: ['context'] },
)
