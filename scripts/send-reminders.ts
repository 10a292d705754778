import { parseArgs } from 'node:util'
import { findPersonById } from '../server/identity/person.repository.js'
import { sendReminders } from '../tasks/send-reminders.task.js'
import { runCli } from './task-cli.js'

/** `npm run send-reminders [-- --dry-run]`: today's end-of-day reminders, now (each person once a day). */
const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } } })
await runCli(async (ctx, progress) => {
  const result = await sendReminders(ctx, { dryRun: values['dry-run'], onProgress: progress.update })
  progress.stop()
  if (values['dry-run']) {
    console.log(`Would remind ${result.personIds.length} person(s) still signed in on ${result.day}:`)
    for (const id of result.personIds) {
      const p = await findPersonById(ctx.db, id)
      console.log(`  ${p ? `${p.first_name} ${p.last_name}` : '?'} (#${id})`)
    }
    return
  }
  const parts = Object.entries(result.outcomes).map(([k, n]) => `${k}: ${n}`)
  console.log(`Reminders for ${result.day}: ${parts.length ? parts.join(', ') : 'nobody due'}`)
})
