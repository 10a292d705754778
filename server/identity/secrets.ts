import {
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  randomFillSync,
  randomInt,
  timingSafeEqual,
} from 'node:crypto'

/** Keys derived from SESSION_SECRET, one per purpose, so no key is ever used for two jobs. */
export interface Keys {
  /** 32 bytes for @fastify/secure-session. */
  session: Buffer
  /** HMAC key for one-time codes. */
  codes: Buffer
  /** HMAC key for signed links (reminders, replies). */
  links: Buffer
  /** HMAC key for kiosk pairing codes and the rotating door codes. */
  kiosk: Buffer
  /** AES-256-GCM key for the outgoing webhooks' signing secrets at rest. */
  webhooks: Buffer
}

/** Derives every key from the one configured secret with HKDF-SHA256. */
export function deriveKeys(secret: string): Keys {
  const derive = (info: string) =>
    Buffer.from(hkdfSync('sha256', secret, 'building-register', `building-register:${info}`, 32))
  return {
    session: derive('session'),
    codes: derive('codes'),
    links: derive('links'),
    kiosk: derive('kiosk'),
    webhooks: derive('webhooks'),
  }
}

/** Six digits from the CSPRNG, zero-padded. */
export function newCode(): string {
  return randomInt(0, 1_000_000).toString().padStart(6, '0')
}

/** The keyed hash of a code, bound to the contact it was sent to. */
export function hashCode(key: Buffer, contactValue: string, code: string): string {
  return createHmac('sha256', key).update(`${contactValue}\n${code}`).digest('base64url')
}

/** Compares two hashes in constant time. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A fresh bearer/device token: 256 bits from the CSPRNG, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url')
}

// Small secrets come from a pool of CSPRNG bytes filled 4 KiB at a time, as Node's randomUUID does:
// a call into OpenSSL for every 18-byte CSRF secret cost ~3% of a home page that starts a session.
// Every byte is handed out once; the pool is refilled, never reused.
const pool = Buffer.alloc(4096)
let poolAt = pool.length

/** `bytes` fresh bytes from the CSPRNG, URL-safe (for small secrets made often, such as CSRF secrets). */
export function newSecret(bytes: number): string {
  if (bytes > pool.length) return randomBytes(bytes).toString('base64url')
  if (poolAt + bytes > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const secret = pool.toString('base64url', poolAt, poolAt + bytes)
  poolAt += bytes
  return secret
}

/** How a token is stored: its SHA-256 (the token itself has 256 bits of entropy, so no salt is needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

/** True for strings shaped like our tokens, so junk never reaches the database. */
export function looksLikeToken(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value)
}
