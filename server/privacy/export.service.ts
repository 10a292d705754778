import { stringify } from 'csv-stringify/sync'
import { type RequestContext, recordAudit } from '../audit/audit.repository.js'
import type { Db } from '../db/connect.js'
import { UserError } from '../lib/errors.js'
import { csvOptions } from '../reports/export.js'
import { readPersonData } from './person-data.js'

/** The formats of a personal data export. */
export type ExportFormat = 'json' | 'csv'

/**
 * Everything the register holds about a person, as a file: JSON (one object per table) or CSV (one
 * line per field: table, row, field, value). Audited as `person.exported` with who asked.
 */
export async function exportPersonData(
  db: Db,
  request: { personId: number; format: ExportFormat; by: number; at: number; context: RequestContext },
): Promise<{ filename: string; contentType: string; body: string }> {
  const data = await readPersonData(db, request.personId)
  if (!data.person) throw new UserError(404, 'There is no such person.')
  await recordAudit(db, {
    at: request.at,
    personId: request.personId,
    action: 'person.exported',
    context: request.context,
    detail: { by: request.by, format: request.format },
  })
  const exportedAt = new Date(request.at).toISOString()
  const filename = `person-${request.personId}-${exportedAt.slice(0, 10)}.${request.format}`
  if (request.format === 'json') {
    const body = JSON.stringify(
      { exportedAt, note: 'Instants are epoch milliseconds (UTC).', person: data.person, ...data.tables },
      null,
      2,
    )
    return { filename, contentType: 'application/json; charset=utf-8', body }
  }
  const lines: unknown[][] = [['table', 'row', 'field', 'value']]
  const add = (table: string, row: number, record: Record<string, unknown>) => {
    for (const [field, value] of Object.entries(record)) lines.push([table, row, field, value ?? ''])
  }
  add('person', 1, data.person)
  for (const [table, rows] of Object.entries(data.tables)) {
    for (const [i, row] of rows.entries()) add(table, i + 1, row)
  }
  return { filename, contentType: 'text/csv; charset=utf-8', body: stringify(lines, csvOptions) }
}
