import { type DetailLine, readableDetail } from '../audit/audit-detail.js'
import { type AuditRow, listAuditActions, searchAudit } from '../audit/audit-log.repository.js'
import type { Db } from '../db/connect.js'
import { formatDateTime } from '../lib/site-time.js'
import { type DateRange, parseDateRange } from '../reports/date-range.js'
import { findPersonByReference } from './people.service.js'

/** What the admin typed into the audit log's filters. */
export interface AuditLogQuery {
  /** A person's number (#12) or one of their contacts. */
  person?: string
  action?: string
  from?: string
  to?: string
  page: number
}

/** One page of the audit log as the admin asked for it. */
export interface AuditLogPage {
  /** Each entry with its detail as labelled lines a person can read. */
  rows: (AuditRow & { details: DetailLine[] })[]
  more: boolean
  /** Every action recorded so far, for the filter list. */
  actions: string[]
  /** The dates read from the query; undefined when neither was given. */
  range: DateRange | undefined
  /** The person filter names nobody (so nothing is listed). */
  unknownPerson: boolean
}

/** Reads one page of the audit log, filtered by person, action and dates. */
export async function readAuditLog(
  db: Db,
  query: AuditLogQuery,
  site: { timeZone: string; now: number; defaultRegion: string; pageSize: number },
): Promise<AuditLogPage> {
  const range =
    query.from || query.to
      ? parseDateRange({ from: query.from, to: query.to }, { timeZone: site.timeZone, now: site.now })
      : undefined
  let personId: number | undefined
  let unknownPerson = false
  if (query.person?.trim()) {
    const found = await findPersonByReference(db, query.person, site.defaultRegion)
    if (found) personId = found.id
    else unknownPerson = true
  }
  const [{ rows, more }, actions] = await Promise.all([
    unknownPerson
      ? { rows: [], more: false }
      : searchAudit(
          db,
          { personId, action: query.action?.trim() || undefined, from: range?.fromMs, to: range?.toMs },
          { offset: (query.page - 1) * site.pageSize, limit: site.pageSize },
        ),
    listAuditActions(db),
  ])
  const instant = (ms: number) => formatDateTime(ms, site.timeZone)
  return {
    rows: rows.map((row) => ({ ...row, details: readableDetail(row.detail, instant) })),
    more,
    actions,
    range,
    unknownPerson,
  }
}

/** The latest changes the directory (SCIM) made, newest first, for the admin's directory page. */
export async function directoryChanges(db: Db, limit = 100): Promise<AuditRow[]> {
  return (await searchAudit(db, { action: 'directory' }, { offset: 0, limit })).rows
}
