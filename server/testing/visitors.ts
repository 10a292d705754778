import type { Db } from '../db/connect.js'

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
  const visitor = (name: string, signedIn: number | null, signedOut: number | null) => ({
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
    closed_by: signedOut === null ? null : ('reception' as const),
    client_key: null,
    host_notified_at: null,
    reminded_at: null,
    photo: null,
    created_at: at,
  })
  const rows = [
    ...Array.from({ length: inside }, (_, i) => visitor(`Inside Visitor ${i + 1}`, at, null)),
    ...Array.from({ length: left }, (_, i) => visitor(`Gone Visitor ${i + 1}`, at, at)),
    ...Array.from({ length: expected }, (_, i) => visitor(`Expected Visitor ${i + 1}`, null, null)),
  ]
  if (rows.length > 0) await db.insertInto('visitor').values(rows).execute()
}
