import { insertOutbox } from '../server/outbox/outbox.repository.js'
import { countEveryoneInside } from '../server/register/occupancy.repository.js'
import { slackUrlsFor } from '../server/slack/slack.js'
import type { TaskContext } from './task-context.js'

/** Records "N people in the building" for the digest webhooks; the outbox relay posts it. */
export async function occupancyDigest(ctx: TaskContext): Promise<{ inside: number } | undefined> {
  if (slackUrlsFor(ctx.config, 'digest').length === 0) return undefined
  const now = ctx.clock.now()
  const { total: inside } = await countEveryoneInside(ctx.db)
  await insertOutbox(ctx.db, { topic: 'digest', payload: { at: now, inside } }, now)
  return { inside }
}
