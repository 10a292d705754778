import type { Db } from '../db/connect.js'
import type { VisitorClosedBy } from '../db/database.js'

/**
 * A visitor row as reception's walk-in form leaves it: signed in at `signedIn` (null: only
 * expected on `day`), out at `signedOut` (closed by `closedBy`), or still inside.
 */
export function visitorRow(
  name: string,
  signedIn: number | null,
  signedOut: number | null = null,
  {
    closedBy = 'reception',
    day = '2026-11-23',
    createdAt = signedIn ?? 0,
  }: {
    closedBy?: VisitorClosedBy
    day?: string
    createdAt?: number
  } = {},
) {
  return {
    name,
    company: 'Acme',
    host_person_id: null,
    host_text: null,
    phone: null,
    email: null,
    notice_id: null,
    notice_accepted_at: null,
    expected_day: signedIn === null ? day : null,
    invited_by: null,
    kiosk_id: null,
    signed_in_via: signedIn === null ? null : ('reception' as const),
    signed_in_at: signedIn,
    signed_out_at: signedOut,
    closed_by: signedOut === null ? null : closedBy,
    client_key: null,
    host_notified_at: null,
    reminded_at: null,
    photo: null,
    created_at: createdAt,
  }
}

/**
 * Visitors as reception's walk-in form would leave them: `inside` signed in at `at` and not out,
 * `left` signed in and out, `expected` invited for `day` and not arrived. Only the first are inside.
 */
export async function addVisitors(
  db: Db,
  at: number,
  {
    inside = 0,
    left = 0,
    expected = 0,
    day = '2026-11-23',
  }: { inside?: number; left?: number; expected?: number; day?: string },
): Promise<void> {
  const rows = [
    ...Array.from({ length: inside }, (_, i) => visitorRow(`Inside Visitor ${i + 1}`, at)),
    ...Array.from({ length: left }, (_, i) => visitorRow(`Gone Visitor ${i + 1}`, at, at)),
    ...Array.from({ length: expected }, (_, i) =>
      visitorRow(`Expected Visitor ${i + 1}`, null, null, { day, createdAt: at }),
    ),
  ]
  if (rows.length > 0) await db.insertInto('visitor').values(rows).execute()
}
