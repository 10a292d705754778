import { CsvError, parse } from 'csv-parse/sync'

/** The most people one import may invite (a larger roll-out is several imports). */
export const MAX_IMPORT_ROWS = 1000

/** The largest CSV accepted, pasted or uploaded, in bytes (1,000 rows of long names fit). */
export const MAX_CSV_BYTES = 256 * 1024

/** One person as a line of the CSV gave them, before any check. */
export interface CsvPerson {
  /** The line of the input the row starts on (1 = the first line), for the report. */
  line: number
  firstName: string
  lastName: string
  phone: string
  email: string
}

/** The rows read from a CSV, or why it could not be read at all. */
export type CsvReadResult =
  | { ok: true; people: CsvPerson[]; ignoredColumns: string[] }
  | { ok: false; message: string }

type Column = 'first' | 'last' | 'name' | 'phone' | 'email'

const headerNames: Record<string, Column> = {
  firstname: 'first',
  first: 'first',
  givenname: 'first',
  forename: 'first',
  lastname: 'last',
  last: 'last',
  surname: 'last',
  familyname: 'last',
  name: 'name',
  fullname: 'name',
  displayname: 'name',
  phone: 'phone',
  mobile: 'phone',
  mobilephone: 'phone',
  mobilenumber: 'phone',
  phonenumber: 'phone',
  cell: 'phone',
  cellphone: 'phone',
  telephone: 'phone',
  tel: 'phone',
  email: 'email',
  emailaddress: 'email',
  mail: 'email',
  workemail: 'email',
}

const headerKey = (cell: string) => cell.toLowerCase().replace(/[^a-z]/g, '')

/** The delimiter a spreadsheet used: a tab (pasted cells), a semicolon (European Excel) or a comma. */
function delimiterOf(text: string): string {
  const first = text.split(/\r?\n/).find((line) => line.trim() !== '') ?? ''
  const count = (c: string) => first.split(c).length - 1
  const candidates = ['\t', ';', ',']
  return candidates.reduce((best, c) => (count(c) > count(best) ? c : best), ',')
}

/** "Alice van Dyke" → first "Alice", last "van Dyke": split at the first space. */
function splitName(name: string): { firstName: string; lastName: string } {
  const trimmed = name.trim()
  const space = trimmed.indexOf(' ')
  return space < 0
    ? { firstName: trimmed, lastName: '' }
    : { firstName: trimmed.slice(0, space), lastName: trimmed.slice(space + 1).trim() }
}

/** A row without a header: cells with @ are emails, cells of digits are numbers, the rest is the name. */
function personFromCells(cells: string[], line: number): CsvPerson {
  const email = cells.find((c) => c.includes('@')) ?? ''
  const phone = cells.find((c) => !c.includes('@') && /^[+()\d\s.-]{5,}$/.test(c) && /\d/.test(c)) ?? ''
  const names = cells.filter((c) => c !== '' && c !== email && c !== phone)
  const { firstName, lastName } =
    names.length >= 2 ? { firstName: names[0]!, lastName: names[1]! } : splitName(names[0] ?? '')
  return { line, firstName, lastName, phone, email }
}

/**
 * Reads pasted or uploaded CSV (comma, semicolon or tab separated; a byte-order mark, quotes and
 * blank lines are fine). A first line naming the columns (first name, last name or name, phone or
 * mobile, email) is followed; without one, each cell is recognised by what it holds.
 */
export function readInvitationCsv(text: string): CsvReadResult {
  if (text.trim() === '') return { ok: false, message: 'Paste the list, or choose a CSV file.' }
  let records: { record: string[]; info: { lines: number } }[]
  try {
    records = parse(text, {
      bom: true,
      delimiter: delimiterOf(text),
      relax_column_count: true,
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[]
  } catch (error) {
    if (!(error instanceof CsvError)) throw error
    const line = (error as CsvError & { lines?: number }).lines
    const where = line ? `Line ${line}: ` : ''
    return {
      ok: false,
      message:
        error.code === 'CSV_QUOTE_NOT_CLOSED'
          ? `${where}a quotation mark is opened and never closed.`
          : `${where}this is not valid CSV (${error.message.split(':')[0]}).`,
    }
  }
  // Rows with nothing in them (",,,") are blank lines too.
  const rows = records.filter((r) => r.record.some((cell) => cell !== ''))
  if (rows.length === 0) return { ok: false, message: 'Paste the list, or choose a CSV file.' }

  const header = rows[0]!.record.map((cell) => headerNames[headerKey(cell)])
  const hasHeader = header.some((c) => c !== undefined)
  const body = hasHeader ? rows.slice(1) : rows
  if (body.length === 0) return { ok: false, message: 'The list has a header line but nobody under it.' }
  if (body.length > MAX_IMPORT_ROWS) {
    return {
      ok: false,
      message: `At most ${MAX_IMPORT_ROWS} people per import (this list has ${body.length}). Split it into several imports.`,
    }
  }
  if (!hasHeader) {
    return { ok: true, people: body.map((r) => personFromCells(r.record, r.info.lines)), ignoredColumns: [] }
  }
  const has = (c: Column) => header.includes(c)
  if (!((has('first') && has('last')) || has('name')) || !(has('phone') || has('email'))) {
    return {
      ok: false,
      message:
        'The first line names the columns, but it needs a name (first name and last name, or name) and a phone or email column.',
    }
  }
  const ignoredColumns = rows[0]!.record.filter((cell, i) => header[i] === undefined && cell !== '')
  const cellOf = (record: string[], column: Column) => {
    const i = header.indexOf(column)
    return i < 0 ? '' : (record[i] ?? '')
  }
  const people = body.map(({ record, info }) => {
    const named =
      has('first') || has('last')
        ? { firstName: cellOf(record, 'first'), lastName: cellOf(record, 'last') }
        : splitName(cellOf(record, 'name'))
    return { line: info.lines, ...named, phone: cellOf(record, 'phone'), email: cellOf(record, 'email') }
  })
  return { ok: true, people, ignoredColumns }
}
