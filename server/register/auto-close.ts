import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { closeLeftOpenVisit } from './register.service.js'
import { countPeopleInside, listOpenVisitsBefore } from './visit.repository.js'

/**
 * Closes every visit still open at `now` as `auto` (not confirmed by the person). A visit is
 * closed at `now` or, if it started on an earlier local day (the job did not run that night), at
 * the end of its own day: never later. Each is recorded as closed by the register at `ranAt` (the
 * server's clock: later than `now` for a late run), from which the fire list keeps it Unconfirmed.
 * Visits already closed are never touched.
 */
export async function autoCloseOpenVisits(
  db: Db,
  request: {
    now: number
    /** When the run happens (the server's clock); `now` if absent. */
    ranAt?: number
    timeZone: string
    context: RequestContext
    onProgress?: (done: number, total: number) => void
  },
): Promise<{ closed: number; visitIds: number[]; personIds: number[] }> {
  const visitIds: number[] = []
  const personIds: number[] = []
  const seen = new Set<number>()
  // One open visit per person, so this is the number of open visits.
  const total = await countPeopleInside(db)
  request.onProgress?.(0, total)
  for (;;) {
    const batch = (await listOpenVisitsBefore(db, request.now, 200)).filter((v) => !seen.has(v.id))
    if (batch.length === 0) break
    for (const visit of batch) {
      seen.add(visit.id)
      const closed = await unitOfWork(db, async (trx) => {
        const when = { notAfter: request.now, closedAt: request.ranAt ?? request.now }
        const done = await closeLeftOpenVisit(trx, visit, when, request)
        if (done) {
          await recordAudit(trx, {
            at: request.now,
            personId: visit.person_id,
            action: 'visit.auto-closed',
            context: request.context,
            detail: { visitId: visit.id, closedAt: done.signed_out_at },
          })
        }
        return done
      })
      if (closed) {
        visitIds.push(visit.id)
        personIds.push(visit.person_id)
      }
      request.onProgress?.(seen.size, Math.max(total, seen.size))
    }
  }
  return { closed: visitIds.length, visitIds, personIds }
}
