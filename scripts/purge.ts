import { parseArgs } from 'node:util'
import { purge } from '../tasks/purge.task.js'
import { runCli } from './task-cli.js'

/** `npm run purge [-- --dry-run] [--days N]`: applies retention now; a dry run prints what would go. */
const { values } = parseArgs({
  options: { 'dry-run': { type: 'boolean', default: false }, days: { type: 'string' } },
})
const days = values.days === undefined ? undefined : Number(values.days)
if (days !== undefined && !(Number.isInteger(days) && days >= 1)) {
  console.error('--days must be a whole number of days, at least 1')
  process.exit(2)
}
await runCli(async (ctx, progress) => {
  const dryRun = values['dry-run']
  const effective = days ?? ctx.config.RETENTION_DAYS
  const counts = await purge(ctx, { days, dryRun, onProgress: progress.update })
  progress.stop()
  const visitorDays = Math.min(effective, ctx.config.VISITOR_RETENTION_DAYS)
  console.log(
    `${dryRun ? 'Would remove' : 'Removed'} (retention ${effective} days, visitors ${visitorDays} days):`,
  )
  for (const c of counts) {
    console.log(
      `  ${String(c.skipped ? '-' : c.rows).padStart(7)}  ${c.table}: ${c.skipped ? `skipped (${c.skipped})` : c.label}`,
    )
  }
  if (dryRun) console.log('Dry run: nothing was deleted.')
})
