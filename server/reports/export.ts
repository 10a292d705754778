import { once } from 'node:events'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { type Options as CsvOptions, stringify } from 'csv-stringify/sync'

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

/** Rows per CSV chunk when rows come one by one: one string and one write per chunk, not per row. */
const CSV_BATCH = 1000

/** Spreadsheets run cells that start with = + - @ (or their full-width forms) as formulas; names come from users. */
export const csvOptions: CsvOptions = { escape_formulas: true }

/** Text csv-stringify would change with csvOptions: quoted (comma, quote, line end) or formula-guarded. */
const NEEDS_CSV_STRINGIFY = /[",\n\r]|^[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/

/**
 * One CSV field, exactly as csv-stringify writes it with csvOptions. Numbers and text it would not
 * change are written as they are; the rest (a name with a comma, a formula) goes through the
 * library. Running csv-stringify over every field of a million rows was half the work of an export.
 */
function csvField(value: unknown): string {
  if (typeof value === 'string') return NEEDS_CSV_STRINGIFY.test(value) ? stringifyOne(value) : value
  if (typeof value === 'number') return String(value)
  if (value === null || value === undefined) return ''
  return stringifyOne(value)
}

function stringifyOne(value: unknown): string {
  return stringify([[value]], csvOptions).slice(0, -1)
}

/**
 * Streams pages of rows as CSV (with a header line) into `out`, honouring backpressure; ends `out`.
 * Each page becomes one string, and a page is only turned into CSV when `out` wants more.
 */
export async function writeCsvPages<T extends object>(
  pages: AsyncIterable<T[]> | Iterable<T[]>,
  columns: ExportColumn<T>[],
  out: Writable,
): Promise<void> {
  const keys = columns.map((c) => c.key)
  const header = stringify([columns.map((c) => c.header)], csvOptions)
  async function* chunks(): AsyncGenerator<string> {
    yield header
    for await (const page of pages) {
      let text = ''
      for (const row of page) {
        let line = csvField(row[keys[0]!])
        for (let k = 1; k < keys.length; k++) line += `,${csvField(row[keys[k]!])}`
        text += `${line}\n`
      }
      if (text) yield text
    }
  }
  // One chunk ahead at most: memory stays at a page or two, whatever the size of the export.
  await pipeline(Readable.from(chunks(), { highWaterMark: 1 }), out)
}

/** Streams rows as CSV (with a header line) into `out`, in batches; see writeCsvPages. */
export async function writeCsv<T extends object>(
  rows: AsyncIterable<T> | Iterable<T>,
  columns: ExportColumn<T>[],
  out: Writable,
): Promise<void> {
  await writeCsvPages(inBatches(rows, CSV_BATCH), columns, out)
}

async function* inBatches<T>(rows: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = []
  for await (const row of rows) {
    batch.push(row)
    if (batch.length === size) {
      yield batch
      batch = []
    }
  }
  if (batch.length > 0) yield batch
}

async function* flatten<T>(pages: AsyncIterable<T[]> | Iterable<T[]>): AsyncGenerator<T> {
  for await (const page of pages) yield* page
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
    if (++n % 500 === 0) {
      // exceljs writes the sheet into the zip without waiting for it, and the zip compresses on
      // the thread pool: rows produced faster than they are compressed piled up (1,000,000 visits
      // took 620 MB). Wait for the zip's input, then for a slow client.
      const zipInput = zipInputOf(sheet)
      if (zipInput?._writableState?.needDrain)
        await new Promise<void>((resolve) => zipInput.once('drain', resolve))
      if (out.writableNeedDrain) await once(out, 'drain')
    }
  }
  sheet.commit()
  await workbook.commit()
}

/** The zip entry exceljs's streaming worksheet writes its XML into (a readable-stream PassThrough). */
interface ZipInput {
  _writableState?: { needDrain?: boolean }
  once(event: 'drain', listener: () => void): unknown
}

/**
 * The stream exceljs 4.x's streaming worksheet writes into, if this version still keeps it there
 * (`stream.pipes[0]`, a readable-stream v2 PassThrough without `writableNeedDrain`); undefined
 * otherwise, and then only the client is waited for.
 */
function zipInputOf(sheet: object): ZipInput | undefined {
  const pipes = (sheet as { stream?: { pipes?: unknown[] } }).stream?.pipes
  const first = Array.isArray(pipes) ? (pipes[0] as Partial<ZipInput> | undefined) : undefined
  return first && typeof first.once === 'function' && typeof first._writableState === 'object'
    ? (first as ZipInput)
    : undefined
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

/** Writes pages of rows in a format; see writeCsvPages and writeXlsx. */
export async function writeExportPages<T extends object>(
  format: ExportFormat,
  pages: AsyncIterable<T[]> | Iterable<T[]>,
  columns: ExportColumn<T>[],
  out: Writable,
  sheetName: string,
): Promise<void> {
  if (format === 'csv') return writeCsvPages(pages, columns, out)
  return writeXlsx(flatten(pages), columns, out, sheetName)
}
