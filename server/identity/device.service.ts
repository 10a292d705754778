import Bowser from 'bowser'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import { type Db, dialectOf } from '../db/connect.js'
import type { Device, DeviceKind, Person, SignInMethod } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import {
  type ActiveDevice,
  DEVICE_USE_RECORDED_EVERY_MS,
  findActiveDevice,
  insertDevice,
  revokeDevicesOfKind,
  touchDevice,
} from './device.repository.js'
import { hashToken, looksLikeToken, newToken } from './secrets.js'

/** A readable device name from a user agent: "Safari on iOS", "Chrome on Android". */
export function deviceName(userAgent: string, kind: DeviceKind): string {
  if (kind === 'link') return 'Personal sign-in link'
  if (!userAgent) return kind === 'api' ? 'App' : 'Unknown browser'
  const parsed = Bowser.parse(userAgent)
  const browser = parsed.browser.name
  const os = parsed.os.name
  if (browser && os) return `${browser} on ${os}`
  return browser ?? os ?? (kind === 'api' ? 'App' : 'Unknown browser')
}

/** A live device (not revoked) and its active person. */
export type LiveDevice = { device: ActiveDevice; person: Person }

/** The live device a token stands for, if any; reads only, marks nothing. */
export async function findLiveDevice(db: Db, token: string | undefined): Promise<LiveDevice | undefined> {
  if (!token || !looksLikeToken(token)) return undefined
  return findActiveDevice(db, hashToken(token))
}

/**
 * Issues a new token for a person and stores only its hash. The token is returned once, here.
 * A new personal link replaces the previous one.
 */
export async function issueDevice(
  db: Db,
  request: {
    personId: number
    kind: DeviceKind
    at: number
    context: RequestContext
    /** Organisation sign-in marks the device so roles that require it accept it (default: code). */
    signedInWith?: SignInMethod
  },
): Promise<{ token: string; device: Device }> {
  const token = newToken()
  const device = await unitOfWork(db, async (trx) => {
    if (request.kind === 'link') await revokeDevicesOfKind(trx, request.personId, 'link', request.at)
    const row = await insertDevice(trx, {
      personId: request.personId,
      kind: request.kind,
      tokenHash: hashToken(token),
      name: deviceName(request.context.userAgent, request.kind),
      userAgent: request.context.userAgent.slice(0, 512),
      at: request.at,
      signedInWith: request.signedInWith,
    })
    await recordAudit(trx, {
      at: request.at,
      personId: request.personId,
      action: request.kind === 'link' ? 'link.created' : 'device.created',
      context: request.context,
      detail: { deviceId: row.id, name: row.name, kind: row.kind, signedInWith: row.signed_in_with },
    })
    return row
  })
  return { token, device }
}

/**
 * The device and person a token stands for, if the token is live; records the use, at most once a
 * minute (`recorded` says whether this request did). `found` is this request's lookup of the token,
 * when one was made already (the rate limiter's).
 */
export async function authenticateToken(
  db: Db,
  token: string | undefined,
  at: number,
  found: Promise<LiveDevice | undefined> = findLiveDevice(db, token),
): Promise<(LiveDevice & { recorded: boolean }) | undefined> {
  const live = await found
  if (!live) return undefined
  // Only write when the recorded time is stale: most requests stay read-only. On SQLite the write
  // joins the commit shared by this moment's units of work (the morning's first pages all touch a
  // device, and every commit writes its pages to the WAL again). Not on PostgreSQL: there a shared
  // transaction would hold the device row while other units run, and two such transactions that
  // touch and tap in opposite orders could deadlock; a write of its own holds the row for one statement.
  const recorded = live.device.last_used_at < at - DEVICE_USE_RECORDED_EVERY_MS
  if (recorded) {
    if (dialectOf(db) === 'sqlite') await unitOfWork(db, (trx) => touchDevice(trx, live.device.id, at))
    else await touchDevice(db, live.device.id, at)
  }
  return { ...live, recorded }
}
