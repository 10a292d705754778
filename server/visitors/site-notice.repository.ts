import type { Db } from '../db/connect.js'
import type { SiteNotice } from '../db/database.js'

/** The notice visitors accept now, or undefined when the admin has none (or turned it off). */
export async function latestSiteNotice(db: Db): Promise<SiteNotice | undefined> {
  const row = await db.selectFrom('site_notice').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst()
  return row && row.text !== '' ? row : undefined
}

/** Whether a notice version exists (the one a visitor says they accepted). */
export async function siteNoticeExists(db: Db, id: number): Promise<boolean> {
  return (
    (await db.selectFrom('site_notice').select('id').where('id', '=', id).executeTakeFirst()) !== undefined
  )
}

/** Stores a new version of the notice (empty text turns it off). */
export async function insertSiteNotice(
  db: Db,
  notice: { text: string; by: number | null; at: number },
): Promise<SiteNotice> {
  return db
    .insertInto('site_notice')
    .values({ text: notice.text, created_by: notice.by, created_at: notice.at })
    .returningAll()
    .executeTakeFirstOrThrow()
}
