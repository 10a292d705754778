import { CompiledQuery } from 'kysely'
import type { Db } from './connect.js'

interface Job {
  work: (trx: Db) => Promise<unknown>
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  /** How many times it ran into a transaction PostgreSQL rolled back (a deadlock, a serialization failure). */
  retries: number
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

const SAVEPOINT = CompiledQuery.raw('savepoint unit_of_work')
const RELEASE = CompiledQuery.raw('release unit_of_work')
const ROLLBACK = CompiledQuery.raw('rollback to unit_of_work')

/** The most units of work that share one commit. */
export const MAX_SHARED_COMMIT = 100

/**
 * How many times a unit runs again after PostgreSQL rolled its transaction back to let another go
 * first: deadlock_detected (40P01: two processes took the same rows in opposite orders, which a
 * shared commit makes possible) and serialization_failure (40001). Nothing of it was saved, and the
 * other side has its locks now, so running it again succeeds; past this, the error goes to the
 * caller (a "busy, try again" answer).
 */
const MAX_RETRIES = 3
const ROLLED_BACK_TO_RETRY = new Set(['40P01', '40001'])

const pending = new WeakMap<Db, Job[]>()

/**
 * The one way this code base opens a transaction (a test forbids `.transaction()` anywhere else).
 * Whoever owns the unit of work — a route's top-level domain function, a task, a CLI — calls it;
 * the functions it calls take `trx` as their `db` and never open their own. When `db` is already
 * a transaction, `work` simply runs in it: the caller owns the unit, so two domain functions can be
 * made atomic together by calling both inside one `unitOfWork`.
 *
 * Runs `work` as one all-or-nothing unit, and resolves only once it is committed. Units started in
 * the same event-loop turn (08:55: a queue at the door) share one transaction and one commit: a
 * unit that throws is rolled back alone and rejects with its own error, the others commit. Units
 * run one after another, so each sees the ones before it, exactly as with a transaction each. A
 * commit costs more than a sign-in's own writes (every changed page goes to the WAL), and a shared
 * one writes a table's last page once, not once per sign-in.
 *
 * How one unit is rolled back alone: the units first run together with nothing between them (the
 * usual case: nobody throws). If one throws, that transaction is rolled back whole and the units
 * run again, each inside its own savepoint. A savepoint per unit always would cost two statements
 * per unit — two round trips on PostgreSQL — to guard against what seldom happens.
 *
 * A unit PostgreSQL rolls back to let another transaction go first (a deadlock, a serialization
 * failure) is queued again, up to MAX_RETRIES times, before its caller sees the error.
 *
 * So `work` must only use `trx`, must not wait for anything but the database, and may run more than
 * once: anything it does besides the database (sending, announcing, counting) belongs after it
 * resolves.
 */
export function unitOfWork<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  if (db.isTransaction) return work(db)
  return new Promise<T>((resolve, reject) => {
    enqueue(db, { work, resolve: resolve as (value: unknown) => void, reject, retries: 0 })
  })
}

function enqueue(db: Db, job: Job): void {
  let queue = pending.get(db)
  if (!queue) {
    queue = []
    pending.set(db, queue)
  }
  queue.push(job)
  if (queue.length === 1) setImmediate(commitPending, db)
}

/** Rejects a unit with `error`, or queues it to run again when PostgreSQL rolled it back to retry. */
function fail(db: Db, job: Job, error: unknown): void {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && ROLLED_BACK_TO_RETRY.has(code) && job.retries < MAX_RETRIES) {
    job.retries++
    enqueue(db, job)
  } else {
    job.reject(error)
  }
}

async function commitPending(db: Db): Promise<void> {
  const queue = pending.get(db)!
  const batch = queue.splice(0, MAX_SHARED_COMMIT)
  if (queue.length > 0) setImmediate(commitPending, db)
  if (batch.length === 1) {
    // Alone in its commit: the transaction is the unit, and a savepoint around it would only add
    // two statements (two round trips on PostgreSQL).
    const job = batch[0]!
    try {
      job.resolve(await db.transaction().execute(job.work))
    } catch (error) {
      fail(db, job, error)
    }
    return
  }
  if (!(await runTogether(db, batch))) await runEachInSavepoint(db, batch)
}

/** Thrown out of the transaction when a unit threw, told apart from a failure of the transaction itself. */
class UnitThrew {}

/**
 * Runs the batch in one transaction with nothing between its units and settles every job; false
 * (nothing settled, nothing saved) if a unit threw, so the batch must run again unit by unit.
 */
async function runTogether(db: Db, batch: Job[]): Promise<boolean> {
  const values: unknown[] = []
  try {
    await db.transaction().execute(async (trx) => {
      for (const job of batch) {
        try {
          values.push(await job.work(trx))
        } catch {
          // Its own error is thrown again when the batch runs again, unit by unit.
          throw new UnitThrew()
        }
      }
    })
  } catch (error) {
    if (error instanceof UnitThrew) return false
    // The commit (or the transaction's start) failed: nothing in this batch was saved.
    for (const job of batch) fail(db, job, error)
    return true
  }
  batch.forEach((job, i) => {
    job.resolve(values[i])
  })
  return true
}

/** Runs the batch again, each unit in its own savepoint: one that throws is rolled back alone. */
async function runEachInSavepoint(db: Db, batch: Job[]): Promise<void> {
  const outcomes: Outcome[] = []
  try {
    await db.transaction().execute(async (trx) => {
      for (const job of batch) {
        await trx.executeQuery(SAVEPOINT)
        try {
          const value = await job.work(trx)
          await trx.executeQuery(RELEASE)
          outcomes.push({ ok: true, value })
        } catch (error) {
          await trx.executeQuery(ROLLBACK)
          await trx.executeQuery(RELEASE)
          outcomes.push({ ok: false, error })
        }
      }
    })
  } catch (error) {
    // The commit (or a rollback) failed: nothing in this batch was saved.
    for (const job of batch) fail(db, job, error)
    return
  }
  batch.forEach((job, i) => {
    const outcome = outcomes[i]!
    if (outcome.ok) job.resolve(outcome.value)
    else fail(db, job, outcome.error)
  })
}
