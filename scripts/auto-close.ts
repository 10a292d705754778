import { autoClose } from '../tasks/auto-close.task.js'
import { runCli } from './task-cli.js'

/** `npm run auto-close`: closes every open visit now, marked auto-closed (not confirmed). */
await runCli(async (ctx, progress) => {
  const result = await autoClose(ctx, { onProgress: progress.update })
  progress.stop()
  console.log(`Auto-closed ${result.closed} open visit(s).`)
})
