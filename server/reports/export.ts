import { once } from 'node:events'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { stringify } from 'csv-stringify'

/** A column of an export: which field, under which header. */
export interface ExportColumn<T> {
  key: keyof T
  header: string
}

/** The export formats. */
export type ExportFormat = 'csv' | 'xlsx'

/** The MIME type of an export format. */
export const contentTypes: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
}

/** Streams rows as CSV (with a header line) into `out`, honouring backpressure; ends `out`. */
export async function writeCsv<T extends object>(
  rows: AsyncIterable<T> | Iterable<T>,
  columns: ExportColumn<T>[],
  out: Writable,
): Promise<void> {
  const stringifier = stringify({
    header: true,
    columns: columns.map((c) => ({ key: String(c.key), header: c.header })),
    // Spreadsheets run cells that start with = + - @ as formulas; names come from users.
    cast: { string: (value) => (/^[=+\-@\t\r]/.test(value) ? `'${value}` : value) },
  })
  await pipeline(Readable.from(rows), stringifier, out)
}

/**
 * Streams rows into an XLSX workbook (exceljs' streaming writer: each row is committed and
 * written out as it comes) into `out`; ends `out`.
 */
export async function writeXlsx<T extends object>(
  rows: AsyncIterable<T> | Iterable<T>,
  columns: ExportColumn<T>[],
  out: Writable,
  sheetName: string,
): Promise<void> {
  // Loaded on demand: exceljs costs ~30 MB of memory, needed only for XLSX downloads.
  const { default: ExcelJS } = await import('exceljs')
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: out,
    useStyles: false,
    useSharedStrings: false,
  })
  const sheet = workbook.addWorksheet(sheetName)
  sheet.columns = columns.map((c) => ({
    header: c.header,
    key: String(c.key),
    width: Math.max(12, c.header.length + 2),
  }))
  let n = 0
  for await (const row of rows) {
    sheet.addRow(row).commit()
    // Let the zip stream drain to a slow client instead of buffering the whole file.
    if (++n % 500 === 0 && out.writableNeedDrain) await once(out, 'drain')
  }
  sheet.commit()
  await workbook.commit()
}

/** Writes rows in a format; see writeCsv and writeXlsx. */
export async function writeExport<T extends object>(
  format: ExportFormat,
  rows: AsyncIterable<T> | Iterable<T>,
  columns: ExportColumn<T>[],
  out: Writable,
  sheetName: string,
): Promise<void> {
  if (format === 'csv') return writeCsv(rows, columns, out)
  return writeXlsx(rows, columns, out, sheetName)
}
