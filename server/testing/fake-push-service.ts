import { createDecipheriv, createECDH, createPublicKey, hkdfSync, randomBytes, verify } from 'node:crypto'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One request the fake push service received. */
export interface ReceivedPush {
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

/** A browser-side subscription: what the page would send, and the keys to read what arrives. */
export interface FakeSubscription {
  json: { endpoint: string; keys: { p256dh: string; auth: string } }
  /** Decrypts an aes128gcm push body (RFC 8291) with this subscription's private key. */
  decrypt(body: Buffer): string
}

/**
 * A local push service speaking the Web Push protocol (RFC 8030): it records each POST and answers
 * with `status` (201 by default; 410 means "subscription gone"). Subscriptions are made here like a
 * browser makes them (P-256 key pair and auth secret), so tests can decrypt what the app sends.
 */
export async function startFakePushService() {
  const received: ReceivedPush[] = []
  const state = { status: 201 }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) })
      res.writeHead(state.status).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let n = 0

  return {
    received,
    state,
    base,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    subscribe(): FakeSubscription {
      const ecdh = createECDH('prime256v1')
      const uaPublic = ecdh.generateKeys()
      const auth = randomBytes(16)
      return {
        json: {
          endpoint: `${base}/push/${++n}`,
          keys: { p256dh: uaPublic.toString('base64url'), auth: auth.toString('base64url') },
        },
        decrypt(body: Buffer): string {
          const salt = body.subarray(0, 16)
          const idlen = body.readUInt8(20)
          const asPublic = body.subarray(21, 21 + idlen)
          const ciphertext = body.subarray(21 + idlen)
          const secret = ecdh.computeSecret(asPublic)
          const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic])
          const ikm = Buffer.from(hkdfSync('sha256', secret, auth, keyInfo, 32))
          const cek = Buffer.from(
            hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16),
          )
          const nonce = Buffer.from(
            hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12),
          )
          const decipher = createDecipheriv('aes-128-gcm', cek, nonce)
          decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
          const plain = Buffer.concat([
            decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
            decipher.final(),
          ])
          // The record ends with a 0x02 delimiter followed by optional zero padding.
          const end = plain.lastIndexOf(2)
          return plain.subarray(0, end).toString('utf8')
        },
      }
    },
  }
}

/**
 * Checks a VAPID Authorization header (RFC 8292: `vapid t=<JWT>, k=<public key>`): the JWT is an
 * ES256 signature by that key, for the push service's origin, not expired. Returns its claims.
 */
export function verifyVapid(
  authorization: string | undefined,
  audience: string,
  publicKey: string,
): { aud: string; exp: number; sub: string } {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '')
  if (!match) throw new Error(`not a VAPID Authorization header: ${authorization}`)
  const [, jwt, k] = match as unknown as [string, string, string]
  if (k !== publicKey) throw new Error('VAPID key is not the app public key')
  const [header, claims, signature] = jwt.split('.') as [string, string, string]
  const raw = Buffer.from(k, 'base64url')
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: raw.subarray(1, 33).toString('base64url'),
      y: raw.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  })
  const ok = verify(
    'sha256',
    Buffer.from(`${header}.${claims}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  )
  if (!ok) throw new Error('VAPID JWT signature does not verify')
  const parsed = JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as {
    aud: string
    exp: number
    sub: string
  }
  if (parsed.aud !== audience) throw new Error(`VAPID audience ${parsed.aud} is not ${audience}`)
  if (parsed.exp * 1000 < Date.now()) throw new Error('VAPID JWT expired')
  return parsed
}
