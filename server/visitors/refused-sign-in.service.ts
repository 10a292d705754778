import { auditOfActionSinceQuery, type RequestContext } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { Kiosk } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { auditKiosk, savedByKiosk } from '../kiosk/kiosk.service.js'

/** The audit action of a kiosk's saved sign-in that the register refused for good. */
export const SAVED_SIGN_IN_REFUSED = 'visitor.saved-sign-in-refused'

/** The audit action of a person removing a refused saved sign-in's notice from the kiosk tablet. */
export const SAVED_SIGN_IN_DISMISSED = 'visitor.saved-sign-in-dismissed'

/** How long reception's board lists a refused saved sign-in (the audit trail keeps it). */
export const REFUSED_ON_BOARD_MS = 24 * 60 * 60 * 1000

/** A visitor's sign-in saved on a kiosk with no network that the register refused, as reception sees it. */
export interface RefusedSavedSignIn {
  kiosk: string
  /** When the visitor signed in at the kiosk, by the server's clock; null when the request did not say. */
  madeAt: number | null
  refusedAt: number
  reason: string
  /**
   * When a person removed the notice at the kiosk (saying reception knows), and the kiosk they did it
   * at; null while the tablet still shows it. Removed, they are still not on the fire list.
   */
  removed: { at: number; kiosk: string } | null
}

/**
 * Records that the register refused a sign-in a kiosk saved offline: the visitor was told they are
 * signed in and is not on the fire list, so reception must hear of it. Audited with the kiosk, the
 * time and the reason, never the visitor's name (the tablet keeps that on screen).
 */
export async function recordRefusedSavedSignIn(
  db: Db,
  kiosk: Pick<Kiosk, 'id' | 'name'>,
  refusal: {
    now: number
    madeAt: number | null
    key: string | null
    status: number
    reason: string
    /** The kiosks the tablet saved it under while paired as another, as the request sent them. */
    savedUnder: unknown
    context: RequestContext
  },
): Promise<void> {
  await auditKiosk(db, kiosk, {
    at: refusal.now,
    action: SAVED_SIGN_IN_REFUSED,
    context: refusal.context,
    detail: {
      madeAt: refusal.madeAt,
      key: refusal.key,
      status: refusal.status,
      reason: refusal.reason,
      ...(await savedByKiosk(db, refusal.savedUnder)),
    },
  })
}

/**
 * What the register made of a removal at the kiosk: `recorded` now, or `already` (a removal sent
 * again, its first answer lost: nothing new); or `no-refusal` when it holds no refusal of that key
 * under the kiosk the sign-in was saved under (a made-up key, or one purged with the audit trail
 * after RETENTION_DAYS): nothing is recorded. In every case the tablet may forget the notice.
 */
export type DismissalOutcome = 'recorded' | 'already' | 'no-refusal'

/**
 * Records that a person removed a refused saved sign-in's notice from the kiosk tablet (saying
 * reception knows), before the tablet forgets it: the kiosk, when the sign-in was made and its key
 * (which the refusal's audit row holds too), never the visitor's name. Once per refusal: only a
 * refusal of that key, saved under the same kiosk, not yet removed since, is recorded as removed.
 * (Two removals of one notice in the same instant, in two processes on PostgreSQL, could both be
 * recorded: nothing locks between the look and the write. A tablet sends one at a time.)
 */
export async function recordDismissedSavedSignIn(
  db: Db,
  kiosk: Pick<Kiosk, 'id' | 'name'>,
  dismissal: {
    now: number
    madeAt: number | null
    key: string
    savedUnder: unknown
    context: RequestContext
  },
): Promise<DismissalOutcome> {
  const savedBy = await savedByKiosk(db, dismissal.savedUnder)
  // The sign-in as the board pairs a removal with its refusal: its key, under the kiosk that saved it.
  const signIn = signInOf({ kioskId: kiosk.id, ...savedBy, key: dismissal.key })
  const same = (row: { detail: string }) => signInOf(JSON.parse(row.detail) as SavedSignInDetail) === signIn
  return unitOfWork(db, async (trx) => {
    // Refusals are few (each was an alarm on reception's board) and kept as long as the audit
    // trail: all of them, through their partial index, with the key matched here.
    const refusal = (await refusedSavedSignInsQuery(trx, 0).execute()).findLast(same)
    if (!refusal) return 'no-refusal'
    // A removal since the refusal removed this notice already (the board counts the first one).
    if ((await dismissedSavedSignInsQuery(trx, refusal.at).execute()).some(same)) return 'already'
    await auditKiosk(trx, kiosk, {
      at: dismissal.now,
      action: SAVED_SIGN_IN_DISMISSED,
      context: dismissal.context,
      detail: { madeAt: dismissal.madeAt, key: dismissal.key, ...savedBy },
    })
    return 'recorded'
  })
}

/** What an audit row of a refusal or a removal says of the sign-in, as recorded above. */
interface SavedSignInDetail {
  kioskId?: number
  kiosk?: string
  savedByKioskId?: number
  madeAt?: number | null
  key?: string | null
  reason?: string
}

/**
 * The sign-in a refusal or a removal names: its key, under the kiosk it was first saved under (the
 * one that made the key), however often the tablet was paired anew in between.
 */
const signInOf = (detail: SavedSignInDetail): string | null =>
  typeof detail.key === 'string' ? `${detail.savedByKioskId ?? detail.kioskId} ${detail.key}` : null

/**
 * The saved sign-ins refused in the last day, oldest first, for reception's board: each with its
 * removal at the kiosk, if a person removed its notice there since.
 */
export async function recentRefusedSavedSignIns(db: Db, now: number): Promise<RefusedSavedSignIn[]> {
  const rows = await refusedSavedSignInsQuery(db, now - REFUSED_ON_BOARD_MS).execute()
  if (rows.length === 0) return []
  // A notice is removed after its refusal: removals since the first refusal shown, and only when
  // there is one (most days there is none, and this is read on every refresh of the board).
  const removals = new Map<string, { at: number; kiosk: string }[]>()
  for (const row of await dismissedSavedSignInsQuery(db, rows[0]!.at).execute()) {
    const detail = JSON.parse(row.detail) as SavedSignInDetail
    const signIn = signInOf(detail)
    if (signIn === null) continue
    removals.set(signIn, [...(removals.get(signIn) ?? []), { at: row.at, kiosk: detail.kiosk ?? 'A kiosk' }])
  }
  return rows.map((row) => {
    const detail = JSON.parse(row.detail) as SavedSignInDetail
    const signIn = signInOf(detail)
    return {
      kiosk: detail.kiosk ?? 'A kiosk',
      madeAt: typeof detail.madeAt === 'number' ? detail.madeAt : null,
      refusedAt: row.at,
      reason: detail.reason ?? '',
      // The first removal after this refusal (a copy refused again later is a notice again).
      removed: (signIn === null ? undefined : removals.get(signIn)?.find((r) => r.at >= row.at)) ?? null,
    }
  })
}

/** The audit rows of refused saved sign-ins since an instant, oldest first (its plan is tested). */
export const refusedSavedSignInsQuery = (db: Db, since: number) =>
  auditOfActionSinceQuery(db, SAVED_SIGN_IN_REFUSED, since)

/**
 * The audit rows of removed refused-sign-in notices since an instant, oldest first (its plan is
 * tested): through their own partial index (migration 202612031800); the board asks only on a day
 * with a refusal, from the first one it shows.
 */
export const dismissedSavedSignInsQuery = (db: Db, since: number) =>
  auditOfActionSinceQuery(db, SAVED_SIGN_IN_DISMISSED, since)
