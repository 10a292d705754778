import { parseArgs } from 'node:util'
import { parseDateRange } from '../server/reports/date-range.js'
import { writeExport } from '../server/reports/export.js'
import { buildStats, type DayStats } from '../server/reports/reports.service.js'
import { outputStream, runCli, UsageError } from './cli.js'

const usage = `Usage: npm run stats -- --from 2026-01-01 --to 2026-12-31 [--format table|csv|xlsx] [--out file]

One row per local day: distinct visitors, people not signed out, average stay in minutes; then
(table only) the totals. Without --from/--to: the last 30 days.`

const columns: { key: keyof DayStats; header: string }[] = [
  { key: 'day', header: 'date' },
  { key: 'visitors', header: 'visitors' },
  { key: 'notSignedOut', header: 'not_signed_out' },
  { key: 'averageStayMinutes', header: 'average_stay_minutes' },
]

/** `npm run stats`: daily visitors and average stay for a range, as a table, CSV or XLSX. */
await runCli(async ({ config, db }) => {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      format: { type: 'string', default: 'table' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    process.stdout.write(`${usage}\n`)
    return
  }
  const format = values.format
  if (format !== 'table' && format !== 'csv' && format !== 'xlsx') {
    throw new UsageError(`--format must be table, csv or xlsx.\n${usage}`)
  }
  const site = { timeZone: config.TIME_ZONE, now: Date.now() }
  const range = parseDateRange({ from: values.from, to: values.to }, site)
  const stats = await buildStats(db, range, site)
  const out = outputStream(values.out)
  if (format === 'table') {
    const lines = [
      `${'date'.padEnd(12)}${'visitors'.padStart(9)}${'not out'.padStart(9)}${'avg stay'.padStart(10)}`,
    ]
    for (const d of stats.days) {
      lines.push(
        `${d.day.padEnd(12)}${String(d.visitors).padStart(9)}${String(d.notSignedOut).padStart(9)}${(d.averageStayMinutes === null ? '—' : `${d.averageStayMinutes} min`).padStart(10)}`,
      )
    }
    const avg = stats.totals.averageStayMinutes
    lines.push(
      '',
      `${stats.totals.visitors} ${stats.totals.visitors === 1 ? 'person' : 'people'}, ${stats.totals.visits} ${stats.totals.visits === 1 ? 'visit' : 'visits'} from ${range.from} to ${range.to}; average stay ${avg === null ? '—' : `${avg} min`}.`,
    )
    out.stream.end(`${lines.join('\n')}\n`)
  } else {
    await writeExport(format, stats.days, columns, out.stream, 'Stats')
  }
  await out.done()
})
