import { join } from 'node:path'
import { Eta } from 'eta'
import type { ContactKind } from '../db/database.js'
import { viewsDir } from '../paths.js'
import type { Channel, MessagePurpose, OutgoingMessage } from './channel.js'
import { DeliveryError } from './channel.js'

/** What every message template can use. */
export interface MessageSite {
  siteName: string
  publicUrl: string
}

/** Renders message templates and hands them to the channel that serves the contact's kind. */
export class Messenger {
  private readonly text = new Eta({ views: join(viewsDir, 'messages'), autoEscape: false, cache: true })
  private readonly html = new Eta({ views: join(viewsDir, 'messages'), autoEscape: true, cache: true })

  constructor(
    private readonly channels: readonly Channel[],
    private readonly site: MessageSite,
  ) {}

  /** The contact kinds some enabled channel can reach (the login page offers exactly these). */
  get kinds(): ContactKind[] {
    return [...new Set(this.channels.flatMap((c) => c.kinds))]
  }

  /** Renders `<purpose>.<kind>.eta` (and `.html.eta` for email) and sends it. */
  async send(
    to: { kind: ContactKind; value: string },
    purpose: MessagePurpose,
    data: Record<string, unknown>,
  ): Promise<{ channel: string; providerId?: string }> {
    const channel = this.channels.find((c) => c.kinds.includes(to.kind))
    if (!channel) throw new DeliveryError(`We cannot send messages by ${to.kind} on this site.`, true)
    const host = new URL(this.site.publicUrl).host
    const context = { ...data, ...this.site, host }
    const text = this.text.render(`./${purpose}.${to.kind}.eta`, context).trim()
    const [subject, ...body] = to.kind === 'email' ? text.split('\n') : ['', text]
    const message: OutgoingMessage = {
      to,
      purpose,
      subject: (subject ?? '').replace(/^Subject:\s*/, ''),
      text: to.kind === 'email' ? body.join('\n').trim() : text,
      html: to.kind === 'email' ? this.html.render(`./${purpose}.html.eta`, context) : undefined,
    }
    const result = await channel.send(message)
    return { channel: channel.name, ...result }
  }
}
