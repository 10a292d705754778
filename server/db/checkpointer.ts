import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

/**
 * Pages in the WAL after which the web process's own connection checkpoints, on the event loop, as
 * SQLite does by default after 1,000: only if the checkpointer thread is not keeping up (or failed).
 */
export const FALLBACK_AUTOCHECKPOINT_PAGES = 4000
/** How often the thread checkpoints while the register is being written to. */
const CHECKPOINT_EVERY_MS = 200
/** The thread stops after this long without a write (an idle register needs no thread, nor its memory). */
const IDLE_STOP_MS = 60_000
/**
 * Writes before the thread starts: a start-up's few (migrations' lock) or a quiet site's trickle
 * need no thread, nor its ~15 MB; a burst of taps starts it within a moment.
 */
const START_AFTER_WRITES = 100
/** After the thread failed, how long before another is tried (meanwhile the fallback checkpoints). */
const RETRY_AFTER_FAILURE_MS = 60_000

// Runs in the thread: its own connection to the file, a PASSIVE checkpoint every few moments. A
// passive checkpoint never waits for a lock and never blocks a writer; one that finds another
// checkpoint running (a purge's) simply tries again next time.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.betterSqlite3)
const db = new Database(workerData.path, { fileMustExist: true })
db.pragma('busy_timeout = 0')
const checkpoint = () => {
  try {
    parentPort.postMessage(db.pragma('wal_checkpoint(PASSIVE)')[0])
  } catch {}
}
const timer = setInterval(checkpoint, workerData.everyMs)
parentPort.on('message', (message) => {
  if (message !== 'stop') return
  clearInterval(timer)
  checkpoint()
  db.close()
  parentPort.close()
})
`

/**
 * Checkpoints a SQLite file's WAL from a thread of its own while the register is written to. A
 * checkpoint copies the WAL's pages into the database and waits for the disk twice; by default
 * SQLite runs one inside the commit that crosses 1,000 pages, on the event loop, stalling every
 * request in flight (measured at 50 connections: 6,572–7,757 taps/s with p99 18 ms before,
 * 7,711–9,221 with p99 14–18 ms with this thread).
 * The thread starts once writes keep coming and stops after a quiet minute.
 *
 * What stays on the event loop: a checkpoint that empties the WAL makes the next commit start it
 * again from the beginning, and with synchronous=NORMAL SQLite syncs the WAL's header in that commit.
 * Under a burst that is a few commits a second, each waiting for the disk: the taps' p99 at 50
 * connections (docs/performance.md, "The tap's tail"). Short of synchronous=OFF, which risks the file on
 * a power cut, SQLite offers no way to take it off the commit.
 */
export class Checkpointer {
  private worker: Worker | undefined
  private lastWriteAt = 0
  private idleTimer: NodeJS.Timeout | undefined
  private failedAt = Number.NEGATIVE_INFINITY
  private stopped = false
  private writesWithoutThread = 0
  /** The thread's last checkpoint: WAL frames (`log`) and how many of them are in the database. */
  lastCheckpoint: { busy: number; log: number; checkpointed: number } | undefined

  constructor(
    private readonly path: string,
    private readonly timing: { idleStopMs: number; startAfterWrites: number } = {
      idleStopMs: IDLE_STOP_MS,
      startAfterWrites: START_AFTER_WRITES,
    },
  ) {}

  /** Whether the thread is running now. */
  get running(): boolean {
    return this.worker !== undefined
  }

  /** A write reached the file: starts the thread once writes keep coming. */
  wrote(): void {
    this.lastWriteAt = Date.now()
    if (this.worker || this.stopped) return
    if (++this.writesWithoutThread < this.timing.startAfterWrites) return
    if (this.lastWriteAt - this.failedAt < RETRY_AFTER_FAILURE_MS) return
    this.writesWithoutThread = 0
    this.start()
  }

  /** Stops the thread (checkpointing once more); resolves when it has closed its connection. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.stopThread()
  }

  private start(): void {
    const worker = new Worker(THREAD, {
      eval: true,
      workerData: {
        path: this.path,
        betterSqlite3: createRequire(import.meta.url).resolve('better-sqlite3'),
        everyMs: CHECKPOINT_EVERY_MS,
      },
      // A checkpoint loop needs next to no heap.
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 2 },
    })
    // Never what keeps the process alive.
    worker.unref()
    worker.on('error', () => {
      this.failedAt = Date.now()
    })
    worker.on('exit', () => {
      if (this.worker === worker) this.forget()
    })
    worker.on('message', (result: Checkpointer['lastCheckpoint']) => {
      this.lastCheckpoint = result
    })
    this.worker = worker
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastWriteAt >= this.timing.idleStopMs) void this.stopThread()
    }, this.timing.idleStopMs / 4)
    this.idleTimer.unref()
  }

  private forget(): void {
    clearInterval(this.idleTimer)
    this.idleTimer = undefined
    this.worker = undefined
  }

  private async stopThread(): Promise<void> {
    const worker = this.worker
    if (!worker) return
    this.forget()
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.postMessage('stop')
    // A thread stuck in a checkpoint on a hung disk must not hold up a shutdown.
    const stuck = setTimeout(() => void worker.terminate(), 5_000)
    await exited
    clearTimeout(stuck)
  }
}
