import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Db } from '../db/connect.js'
import type { ClosedBy } from '../db/database.js'

/** A visit with its person's name, as reports read it. */
export interface ReportVisit {
  id: number
  person_id: number
  first_name: string
  last_name: string
  signed_in_at: number
  signed_out_at: number | null
  closed_by: ClosedBy | null
}

/**
 * Every visit that started in [fromMs, toMs), oldest first, read in pages by keyset
 * (signed_in_at, id). Memory stays at one page however long the range; and unlike one long
 * `.stream()` cursor, the single SQLite connection is free between pages, so sign-ins are never
 * held up behind a slow download, nor behind a fast one (the event loop gets a turn per page).
 */
export async function* iterateVisitPages(
  db: Db,
  range: { fromMs: number; toMs: number },
  pageSize = 2000,
): AsyncGenerator<ReportVisit[]> {
  let after: { at: number; id: number } | undefined
  for (;;) {
    let q = db
      .selectFrom('visit')
      .innerJoin('person', 'person.id', 'visit.person_id')
      .select([
        'visit.id',
        'visit.person_id',
        'person.first_name',
        'person.last_name',
        'visit.signed_in_at',
        'visit.signed_out_at',
        'visit.closed_by',
      ])
      // The plain lower bound lets the index on signed_in_at start at the page, not at the range.
      .where('visit.signed_in_at', '>=', after ? after.at : range.fromMs)
      .where('visit.signed_in_at', '<', range.toMs)
    if (after) {
      const { at, id } = after
      q = q.where((eb) => eb(eb.refTuple('visit.signed_in_at', 'visit.id'), '>', eb.tuple(at, id)))
    }
    const page = await q.orderBy('visit.signed_in_at').orderBy('visit.id').limit(pageSize).execute()
    if (page.length > 0) yield page
    if (page.length < pageSize) return
    const last = page[page.length - 1]!
    after = { at: last.signed_in_at, id: last.id }
    // Let other requests run between pages: the queries and the consumer only await promises that
    // are already settled, which never gives the event loop a turn by itself.
    await nextTurn()
  }
}

/** The visits of iterateVisitPages one by one. */
export async function* iterateVisits(
  db: Db,
  range: { fromMs: number; toMs: number },
  pageSize = 2000,
): AsyncGenerator<ReportVisit> {
  for await (const page of iterateVisitPages(db, range, pageSize)) yield* page
}
