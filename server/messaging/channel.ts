import type { ContactKind } from '../db/database.js'

/** Why a message is sent; recorded with it and used to pick its template. */
export type MessagePurpose = 'login-code' | 'add-contact-code' | 'reminder' | 'broadcast'

/** One rendered message to one contact. */
export interface OutgoingMessage {
  to: { kind: ContactKind; value: string }
  purpose: MessagePurpose
  subject: string
  text: string
  html?: string
}

/** Something that can deliver messages to contacts of some kinds (SMS, email, the console). */
export interface Channel {
  readonly name: string
  readonly kinds: readonly ContactKind[]
  send(message: OutgoingMessage): Promise<{ providerId?: string }>
}

/** Thrown by a channel when a message could not be delivered; the message is for the person. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    public readonly permanent: boolean,
  ) {
    super(message)
    this.name = 'DeliveryError'
  }
}
