import { SingleBar } from 'cli-progress'
import { pino } from 'pino'
import { loadConfigOrExit } from '../server/config.js'
import { createContext } from '../server/context.js'
import { loggerOptions } from '../server/lib/logger.js'
import { channelsFromConfig } from '../server/messaging/channels.js'
import type { TaskContext } from '../tasks/task-context.js'

/**
 * Runs a task from the command line with the same context as the web process (database,
 * channels, keys, live events), then closes it. Logs go to stderr at warn level unless LOG_LEVEL
 * says otherwise, so stdout stays readable; messages the console channel "sends" are printed on
 * stdout.
 */
export async function runCli(work: (ctx: TaskContext, progress: Progress) => Promise<void>): Promise<void> {
  const config = loadConfigOrExit()
  const log = pino(
    { ...loggerOptions({ ...config, LOG_PRETTY: false }), level: process.env.LOG_LEVEL ?? 'warn' },
    pino.destination(2),
  )
  const { context, close } = await createContext(config, log, {
    // With no provider configured, messages go to the console channel: print them on stdout, or
    // `npm run send-reminders` would say "sent: 9" and show none of the nine.
    channels: () =>
      channelsFromConfig(config, {
        info: (line: string) => process.stdout.write(`${line}\n`),
        warn: (line: string) => process.stderr.write(`${line}\n`),
      }),
  })
  const progress = new Progress()
  try {
    await work({ ...context, log }, progress)
  } finally {
    progress.stop()
    await close()
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
