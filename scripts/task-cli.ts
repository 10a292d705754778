import { SingleBar } from 'cli-progress'
import { buildApp } from '../server/app.js'
import { loadConfigOrExit } from '../server/config.js'
import type { TaskContext } from '../tasks/task-context.js'

/**
 * Runs a task from the command line with the same app context as the web process (database,
 * channels, keys), then closes it. Logs go to stderr at warn level, so stdout stays readable.
 */
export async function runCli(work: (ctx: TaskContext, progress: Progress) => Promise<void>): Promise<void> {
  const app = await buildApp(loadConfigOrExit(), {
    logger: { level: process.env.LOG_LEVEL ?? 'warn', stream: process.stderr },
  })
  const progress = new Progress()
  try {
    await app.ready()
    await work({ ...app.ctx, log: app.log }, progress)
  } finally {
    progress.stop()
    await app.close()
  }
}

/** A progress bar when stdout is a terminal; silent otherwise (cron, pipes, CI). */
export class Progress {
  private bar: SingleBar | undefined

  /** Updates the bar (started on first call). */
  readonly update = (done: number, total: number): void => {
    if (!process.stdout.isTTY) return
    if (!this.bar) {
      this.bar = new SingleBar({ format: '{bar} {value}/{total}', hideCursor: true, clearOnComplete: true })
      this.bar.start(total, 0)
    }
    this.bar.setTotal(total)
    this.bar.update(done)
  }

  stop(): void {
    this.bar?.stop()
    this.bar = undefined
  }
}
