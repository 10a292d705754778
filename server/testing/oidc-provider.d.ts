// The few parts of oidc-provider (which ships no types) that the test OpenID Provider uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  /** An OpenID Provider: https://github.com/panva/node-oidc-provider/blob/main/docs/README.md */
  export default class Provider {
    constructor(issuer: string, configuration?: Record<string, unknown>)
    readonly issuer: string
    /** A Node request handler serving every endpoint. */
    callback(): (request: IncomingMessage, response: ServerResponse) => void
    on(event: string, listener: (...args: unknown[]) => void): this
  }
}
