import { parseArgs } from 'node:util'
import { parseDateRange } from '../server/reports/date-range.js'
import { writeExport, writeExportPages } from '../server/reports/export.js'
import {
  summaryColumns,
  summaryRows,
  visitColumns,
  visitExportPages,
  visitorColumns,
  visitorExportRows,
} from '../server/reports/reports.service.js'
import { outputStream, runCli, UsageError } from './cli.js'

const usage = `Usage: npm run visits -- --from 2026-01-01 --to 2026-12-31 [--format csv|xlsx] [--summary | --visitors] [--out file]

Every visit that started in the range (local days in TIME_ZONE, both inclusive), one row each,
with a status column: open, signed-out, auto-closed (unconfirmed) or closed-by-admin.
--summary gives one row per person instead: days in the office and days not signed out.
--visitors gives the visitors (kind "visitor") who signed in in the range, with host and kiosk.
Writes to stdout unless --out is given. Without --from/--to: the last 30 days.`

/** `npm run visits`: the visits export (or the per-person summary) as CSV or XLSX. */
await runCli(async ({ config, db }) => {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      summary: { type: 'boolean', default: false },
      visitors: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    return
  }
  const format = values.format
  if (format !== 'csv' && format !== 'xlsx') throw new UsageError(`--format must be csv or xlsx.\n${usage}`)
  if (format === 'xlsx' && !values.out && process.stdout.isTTY) {
    throw new UsageError('An XLSX file is binary: give --out visits.xlsx or redirect the output to a file.')
  }
  const site = { timeZone: config.TIME_ZONE, now: Date.now() }
  const range = parseDateRange({ from: values.from, to: values.to }, site)
  const out = outputStream(values.out)
  if (values.visitors) {
    await writeExport(
      format,
      await visitorExportRows(db, range, site),
      visitorColumns,
      out.stream,
      'Visitors',
    )
  } else if (values.summary) {
    await writeExport(format, await summaryRows(db, range, site), summaryColumns, out.stream, 'Summary')
  } else {
    await writeExportPages(format, visitExportPages(db, range, site), visitColumns, out.stream, 'Visits')
  }
  await out.done()
})
