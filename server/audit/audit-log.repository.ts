import { sql } from 'kysely'
import type { Db } from '../db/connect.js'
import type { AuditEvent } from '../db/database.js'
import { jsonNumber } from '../db/dialect-sql.js'

/** Filters for the audit log viewer; instants are epoch ms, `to` exclusive. */
export interface AuditFilter {
  /** Rows about this person, or done by them (detail.by). */
  personId?: number
  /** An exact action (`role.granted`) or a family (`role`). */
  action?: string
  from?: number
  to?: number
}

/** A row of the audit log with the names of the person it is about and of who did it. */
export type AuditRow = AuditEvent & {
  first_name: string | null
  last_name: string | null
  by_first_name: string | null
  by_last_name: string | null
}

/** One page of the audit log, newest first; `more` says whether an older page exists. */
export async function searchAudit(
  db: Db,
  filter: AuditFilter,
  page: { offset: number; limit: number },
): Promise<{ rows: AuditRow[]; more: boolean }> {
  const by = jsonNumber(db, 'audit_event.detail', 'by')
  let q = db
    .selectFrom('audit_event')
    .leftJoin('person', 'person.id', 'audit_event.person_id')
    .leftJoin('person as by', (join) => join.on(sql`by.id`, '=', by))
    .selectAll('audit_event')
    .select([
      'person.first_name',
      'person.last_name',
      'by.first_name as by_first_name',
      'by.last_name as by_last_name',
    ])
  if (filter.personId !== undefined) {
    const id = filter.personId
    q = q.where((eb) => eb.or([eb('audit_event.person_id', '=', id), eb(by, '=', id)]))
  }
  if (filter.action) {
    const action = filter.action
    q = q.where((eb) =>
      eb.or([eb('audit_event.action', '=', action), eb('audit_event.action', 'like', `${action}.%`)]),
    )
  }
  if (filter.from !== undefined) q = q.where('audit_event.at', '>=', filter.from)
  if (filter.to !== undefined) q = q.where('audit_event.at', '<', filter.to)
  const rows = await q
    .orderBy('audit_event.at', 'desc')
    .orderBy('audit_event.id', 'desc')
    .limit(page.limit + 1)
    .offset(page.offset)
    .execute()
  return { rows: rows.slice(0, page.limit), more: rows.length > page.limit }
}

/** Every action recorded so far, for the filter list. */
export async function listAuditActions(db: Db): Promise<string[]> {
  const rows = await db.selectFrom('audit_event').select('action').distinct().orderBy('action').execute()
  return rows.map((r) => r.action)
}
