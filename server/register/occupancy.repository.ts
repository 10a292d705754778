import type { Db } from '../db/connect.js'
import { preparedQuery } from '../db/prepared-query.js'

// Every tap's announcement and every home page read it: built once (see preparedQuery). One
// statement: staff from the occupancy counter's slots, visitors signed in and not out by the
// visitor table's (signed_out_at, signed_in_at) index.
const everyoneInsideQuery = preparedQuery((db) =>
  db.selectNoFrom((eb) => [
    eb
      .selectFrom('occupancy_slot')
      .select((s) => s.fn.sum<number | null>('inside').as('inside'))
      .as('staff'),
    eb
      .selectFrom('visitor')
      .select((s) => s.fn.countAll<number>().as('n'))
      .where('signed_out_at', 'is', null)
      .where('signed_in_at', 'is not', null)
      .as('visitors'),
  ]),
)

/**
 * Everyone in the building now, as the fire list counts the people known to be inside: staff
 * with an open visit (one per person) and visitors signed in and not out. What the home page,
 * Slack and Teams posts, the digest and /metrics say; the auto-close and the copy's check count
 * staff visits only (countPeopleInside).
 */
export async function countEveryoneInside(db: Db): Promise<{ total: number; visitors: number }> {
  const [row] = await everyoneInsideQuery(db, {})
  if (row?.staff === null || row?.staff === undefined) {
    throw new Error('the occupancy slots are missing (migrations not run?)')
  }
  const visitors = Number(row.visitors ?? 0)
  return { total: Number(row.staff) + visitors, visitors }
}
