import type { Server } from 'node:http'
import { Webhook } from 'standardwebhooks'
import { close, listen, type ScriptedReply, sendScripted } from './fake-http.js'

/** One request the receiver got, and whether its Standard Webhooks signature verified. */
export interface ReceivedWebhook {
  id: string
  verified: boolean
  payload: {
    type: string
    timestamp: string
    data: Record<string, unknown> & { person?: { id: number; firstName?: string } }
  }
}

/**
 * A system receiving our webhooks: a local HTTP server that verifies each request's signature with
 * the Standard Webhooks reference implementation (the `standardwebhooks` package), the way a
 * receiver following the spec would. Scripted replies (500, a slow answer) come first, then 204;
 * a reply can also be scripted for one particular event.
 */
export class FakeWebhookReceiver {
  readonly received: ReceivedWebhook[] = []
  readonly replies: ScriptedReply[] = []
  /** Replies for particular events, each used once, before `replies` (deliveries may run at once). */
  readonly repliesFor: { match: (payload: ReceivedWebhook['payload']) => boolean; reply: ScriptedReply }[] =
    []
  /** Set once the endpoint's secret is known (it is shown once, on the admin page). */
  secret = ''
  url = ''
  private server?: Server

  async start(): Promise<this> {
    const { server, url } = await listen(async (request, body, response) => {
      let verified = false
      try {
        new Webhook(this.secret).verify(body, request.headers as Record<string, string>)
        verified = true
      } catch {
        verified = false
      }
      const payload = JSON.parse(body) as ReceivedWebhook['payload']
      const scripted = this.repliesFor.findIndex((r) => r.match(payload))
      const reply =
        scripted >= 0
          ? this.repliesFor.splice(scripted, 1)[0]!.reply
          : (this.replies.shift() ?? { status: 204 })
      // Only what was answered 2xx counts as received, as the sender sees it.
      if (reply.status < 300 && !reply.delayMs && !reply.hang) {
        this.received.push({ id: String(request.headers['webhook-id']), verified, payload })
      }
      await sendScripted(response, reply, { error: 'scripted failure' })
    })
    this.server = server
    this.url = `${url}/hooks`
    return this
  }

  async stop(): Promise<void> {
    if (this.server) await close(this.server)
  }
}
