/**
 * A failure the person can act on: it carries an HTTP status (4xx) and a message written for them.
 * Domain functions throw it; the error handler renders it as HTML or JSON.
 */
export class UserError extends Error {
  constructor(
    public readonly statusCode: number,
    message: string,
    public readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'UserError'
  }
}

/** Rate limited: a 429 with Retry-After and a "try again in N minutes" message. */
export class TooManyRequestsError extends UserError {
  constructor(what: string, retryAfterMs: number) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000))
    const minutes = Math.ceil(seconds / 60)
    const wait = seconds < 60 ? `${seconds} seconds` : minutes === 1 ? '1 minute' : `${minutes} minutes`
    super(429, `${what} Try again in ${wait}.`, { 'retry-after': String(seconds) })
  }
}
