import { deliverInvitations, invitationDepsOf } from '../server/invitations/invitation.service.js'
import { type TaskContext, taskAuditContext } from './task-context.js'

/** Sends every invitation waiting to be sent (each claimed first, so two senders never send one twice). */
export async function deliverInvitationsTask(ctx: TaskContext): Promise<{ sent: number; failed: number }> {
  return deliverInvitations(invitationDepsOf(ctx), taskAuditContext('send-invitations'))
}

/** Who sends saved invitations: the web process that saved them, in the background. */
export interface InvitationSender {
  /** Starts a pass over the invitations waiting to be sent; returns at once. */
  send(): void
  /** Waits for this process's sending to finish. */
  close(): Promise<void>
}

/**
 * Sends in this process, in the background, in either tier: the claims are rows in the database,
 * so several processes never send one invitation twice, and one that died mid-way leaves its
 * invitations to the next pass (the admin page starts one). A pass asked for while one runs
 * follows it, for invitations saved meanwhile.
 */
export function inProcessInvitationSender(ctx: TaskContext): InvitationSender {
  let running: Promise<unknown> | undefined
  let again = false
  const pass = (): Promise<unknown> =>
    deliverInvitationsTask(ctx)
      .then((result) => {
        if (result.sent + result.failed > 0) ctx.log.info(result, 'invitations sent')
      })
      .catch((err: unknown) => ctx.log.error({ err }, 'sending invitations failed'))
      .then(() => {
        if (!again) return
        again = false
        return pass()
      })
  return {
    send() {
      if (running) {
        again = true
        return
      }
      running = pass().finally(() => {
        running = undefined
      })
    },
    async close() {
      await running
    },
  }
}
