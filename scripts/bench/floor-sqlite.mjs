// What both SQLite floors (tap-floor.mjs, home-floor.mjs) share: the database opened as the app
// opens it, and the commit shared by the writes of one event-loop turn, as the app's unit of work.
import SQLite from 'better-sqlite3'
// Checkpoints off the event loop, as the app's own (npm run bench builds dist first).
import { Checkpointer, FALLBACK_AUTOCHECKPOINT_PAGES } from '../../dist/server/db/checkpointer.js'

/** The floor's database (FLOOR_DATABASE) and `shared(work)`: runs `work` in this turn's commit. */
export function openFloorDatabase(file) {
  const sqlite = new SQLite(file)
  sqlite.pragma('journal_mode = WAL')
  // NORMAL, as the app. Row 1c alone sets FLOOR_SYNCHRONOUS=OFF, to show what SQLite's one sync on
  // this connection (the WAL header's, in the commit that restarts the WAL) costs the tail.
  sqlite.pragma(`synchronous = ${process.env.FLOOR_SYNCHRONOUS === 'OFF' ? 'OFF' : 'NORMAL'}`)
  sqlite.pragma('foreign_keys = ON')
  sqlite.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`)
  const checkpointer = new Checkpointer(file)
  const begin = sqlite.prepare('begin immediate')
  const commit = sqlite.prepare('commit')
  let pending = []
  function shared(work) {
    return new Promise((resolve) => {
      if (pending.length === 0)
        setImmediate(() => {
          const batch = pending
          pending = []
          begin.run()
          for (const run of batch) run()
          commit.run()
          checkpointer.wrote()
        })
      pending.push(() => resolve(work()))
    })
  }
  return { sqlite, shared }
}
