import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import twilio from 'twilio'
import { close, listen, type ScriptedReply, sendJson, sendScripted } from './fake-http.js'

/** A message the fake Twilio accepted. */
export interface FakeSms {
  sid: string
  to: string
  from?: string
  messagingServiceSid?: string
  body: string
  statusCallback?: string
}

/** Test credentials that pass the config checks. */
export const FAKE_TWILIO = {
  accountSid: `AC${'1'.repeat(32)}`,
  authToken: 'fake-twilio-auth-token-0123456789',
  messagingServiceSid: `MG${'2'.repeat(32)}`,
}

/**
 * A local server speaking Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json,
 * HTTP Basic auth, form-encoded in, JSON out, Twilio's error bodies). Numbers in `invalidNumbers`
 * get error 21211; `script()` queues answers (429, 5xx, …) given before the normal one.
 */
export class FakeTwilio {
  readonly messages: FakeSms[] = []
  /** Every request to the Messages endpoint, including refused ones. */
  requests = 0
  readonly invalidNumbers = new Set<string>()
  private readonly scripted: ScriptedReply[] = []

  private constructor(
    readonly url: string,
    readonly accountSid: string,
    readonly authToken: string,
  ) {}

  /** Starts a fake on a free port; it stops when the test ends. */
  static async start(t: TestContext, credentials = FAKE_TWILIO): Promise<FakeTwilio> {
    let fake: FakeTwilio | undefined
    const { server, url } = await listen((request, body, response) =>
      fake!.handle(request.method, request.url, request.headers.authorization, body, response),
    )
    fake = new FakeTwilio(url, credentials.accountSid, credentials.authToken)
    t.after(() => close(server))
    return fake
  }

  /** Environment variables that point the app at this fake. */
  env(sender: { from?: string } = {}): Record<string, string> {
    return {
      TWILIO_ACCOUNT_SID: this.accountSid,
      TWILIO_AUTH_TOKEN: this.authToken,
      ...(sender.from
        ? { TWILIO_FROM: sender.from }
        : { TWILIO_MESSAGING_SERVICE_SID: FAKE_TWILIO.messagingServiceSid }),
      TWILIO_API_BASE_URL: this.url,
    }
  }

  /** Queues answers to give, in order, before answering normally again. */
  script(...replies: ScriptedReply[]): void {
    this.scripted.push(...replies)
  }

  /** The last message sent to a number. */
  lastTo(to: string): FakeSms | undefined {
    return this.messages.findLast((m) => m.to === to)
  }

  /**
   * The request Twilio would make to a message's StatusCallback URL, signed with the auth token
   * (or not, or wrongly), as inject() options for the app under test.
   */
  statusCallback(
    sid: string,
    status: string,
    options: { errorCode?: string; signature?: 'valid' | 'missing' | 'forged' } = {},
  ): { method: 'POST'; url: string; headers: Record<string, string>; payload: string } {
    const message = this.messages.find((m) => m.sid === sid)
    if (!message?.statusCallback) throw new Error(`no status callback for ${sid}`)
    const params: Record<string, string> = {
      AccountSid: this.accountSid,
      MessageSid: sid,
      SmsSid: sid,
      MessageStatus: status,
      SmsStatus: status,
      To: message.to,
      ...(message.from ? { From: message.from } : {}),
      ...(message.messagingServiceSid ? { MessagingServiceSid: message.messagingServiceSid } : {}),
      ApiVersion: '2010-04-01',
      ...(options.errorCode ? { ErrorCode: options.errorCode } : {}),
    }
    const signature =
      options.signature === 'forged'
        ? twilio.getExpectedTwilioSignature('not-the-auth-token-at-all', message.statusCallback, params)
        : twilio.getExpectedTwilioSignature(this.authToken, message.statusCallback, params)
    const target = new URL(message.statusCallback)
    return {
      method: 'POST',
      url: target.pathname + target.search,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(options.signature === 'missing' ? {} : { 'x-twilio-signature': signature }),
      },
      payload: new URLSearchParams(params).toString(),
    }
  }

  private async handle(
    method: string | undefined,
    path: string | undefined,
    authorization: string | undefined,
    body: string,
    response: import('node:http').ServerResponse,
  ): Promise<void> {
    const match = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Messages\.json$/.exec(path ?? '')
    if (method !== 'POST' || !match) {
      sendJson(response, 404, { code: 20404, message: 'The requested resource was not found', status: 404 })
      return
    }
    this.requests++
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`
    if (authorization !== expected || match[1] !== this.accountSid) {
      sendJson(response, 401, {
        code: 20003,
        message: 'Authenticate',
        more_info: 'https://www.twilio.com/docs/errors/20003',
        status: 401,
      })
      return
    }
    const scripted = this.scripted.shift()
    if (scripted) {
      await sendScripted(response, scripted, {
        code: 20500,
        message: 'Internal Server Error',
        status: scripted.status,
      })
      return
    }
    const form = new URLSearchParams(body)
    const to = form.get('To') ?? ''
    const from = form.get('From') ?? undefined
    const messagingServiceSid = form.get('MessagingServiceSid') ?? undefined
    if (!to || !form.get('Body') || (!from && !messagingServiceSid)) {
      sendJson(response, 400, {
        code: 21604,
        message: "A 'To' phone number, a 'Body' and a 'From' or 'MessagingServiceSid' are required.",
        status: 400,
      })
      return
    }
    if (!/^\+[1-9]\d{6,14}$/.test(to) || this.invalidNumbers.has(to)) {
      sendJson(response, 400, {
        code: 21211,
        message: `The 'To' number ${to} is not a valid phone number.`,
        more_info: 'https://www.twilio.com/docs/errors/21211',
        status: 400,
      })
      return
    }
    const sid = `SM${randomBytes(16).toString('hex')}`
    const message: FakeSms = {
      sid,
      to,
      from,
      messagingServiceSid,
      body: form.get('Body')!,
      statusCallback: form.get('StatusCallback') ?? undefined,
    }
    this.messages.push(message)
    sendJson(response, 201, {
      account_sid: this.accountSid,
      api_version: '2010-04-01',
      body: message.body,
      date_created: new Date().toUTCString(),
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: from ?? null,
      messaging_service_sid: messagingServiceSid ?? null,
      num_segments: '1',
      price: null,
      sid,
      status: messagingServiceSid ? 'accepted' : 'queued',
      to,
      uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${sid}.json`,
    })
  }
}
