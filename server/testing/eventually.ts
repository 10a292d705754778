/**
 * Waits until a condition holds (for work the app finishes in the background, or in another
 * process), polling; the deadline is generous on purpose: it only turns a hang into a failure.
 */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string | (() => string),
  timeoutMs = 20_000,
): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
