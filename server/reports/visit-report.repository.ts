import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Db } from '../db/connect.js'
import type { ClosedBy } from '../db/database.js'

/** A visit as reports read it: only the visit's own columns, all held by its covering index. */
export interface ReportVisit {
  id: number
  person_id: number
  signed_in_at: number
  signed_out_at: number | null
  closed_by: ClosedBy | null
}

/** A person's name, as reports show it. */
export interface PersonName {
  first_name: string
  last_name: string
}

/**
 * Every visit that started in [fromMs, toMs), oldest first, read in pages by keyset
 * (signed_in_at, id) from the covering index alone (names come from PersonNames). Memory stays at
 * one page however long the range; and unlike one long `.stream()` cursor, the single SQLite
 * connection is free between pages, so sign-ins are never held up behind a slow download, nor
 * behind a fast one (the event loop gets a turn per page).
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
      .select(['visit.id', 'visit.person_id', 'visit.signed_in_at', 'visit.signed_out_at', 'visit.closed_by'])
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

/** Names per query: well under SQLite's limit on bound values. */
const NAMES_PER_QUERY = 500

/**
 * People's names for one report, each read once. Joining the person to every visit cost a lookup
 * and two strings per visit, when a year's export names a few hundred people a million times.
 */
export class PersonNames {
  private readonly names = new Map<number, PersonName>()

  constructor(private readonly db: Db) {}

  /** Reads the names of any of these people not read yet. */
  async load(personIds: Iterable<number>): Promise<void> {
    const missing = [...new Set(personIds)].filter((id) => !this.names.has(id))
    for (let i = 0; i < missing.length; i += NAMES_PER_QUERY) {
      const rows = await this.db
        .selectFrom('person')
        .select(['id', 'first_name', 'last_name'])
        .where('id', 'in', missing.slice(i, i + NAMES_PER_QUERY))
        .execute()
      for (const { id, first_name, last_name } of rows) this.names.set(id, { first_name, last_name })
    }
  }

  /** A loaded person's name; none for a person deleted (with their visits) while the report ran. */
  get(personId: number): PersonName | undefined {
    return this.names.get(personId)
  }
}
