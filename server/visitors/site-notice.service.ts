import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import type { SiteNotice } from '../db/database.js'
import { unitOfWork } from '../db/unit-of-work.js'
import { insertSiteNotice, latestSiteNotice } from './site-notice.repository.js'

/** Sets the site notice visitors accept at the kiosk; empty text turns it off. Audited. */
export async function setSiteNotice(
  db: Db,
  actor: { personId: number | null; at: number; context: RequestContext },
  text: string,
): Promise<SiteNotice | undefined> {
  const cleaned = text.normalize('NFC').replace(/\r\n/g, '\n').trim()
  return unitOfWork(db, async (trx) => {
    const row = await insertSiteNotice(trx, { text: cleaned, by: actor.personId, at: actor.at })
    await recordAudit(trx, {
      at: actor.at,
      personId: actor.personId,
      action: cleaned ? 'site-notice.set' : 'site-notice.off',
      context: actor.context,
      detail: { version: row.id, length: cleaned.length },
    })
    return cleaned ? row : undefined
  })
}

/** The site notice in force, if one is set. */
export async function currentSiteNotice(db: Db): Promise<SiteNotice | undefined> {
  return latestSiteNotice(db)
}
