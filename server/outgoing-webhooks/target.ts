import { promises as dns, lookup as dnsLookup, type LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import ipaddr from 'ipaddr.js'

/** A webhook URL that may not be used: the message says why, for the admin. */
export class RefusedTargetError extends Error {
  override name = 'RefusedTargetError'
}

/** True when an address is public unicast (not private, loopback, link-local, reserved, …). */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false
  // ::ffff:10.0.0.1 is 10.0.0.1: judge the IPv4 address it carries.
  return ipaddr.process(address).range() === 'unicast'
}

/** Checks a URL's form: http(s), no credentials, a host. Returns the parsed URL. */
export function parseWebhookUrl(value: string): URL {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new RefusedTargetError('Enter a full address starting with https://')
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RefusedTargetError('The address must start with https:// (or http://).')
  }
  if (url.username || url.password)
    throw new RefusedTargetError('Put no user name or password in the address.')
  return url
}

/**
 * Refuses a URL whose host is, or resolves to, a private, loopback or link-local address, unless
 * allowPrivate. Checked when the endpoint is saved; delivery checks the address it connects to.
 */
export async function checkWebhookUrl(value: string, allowPrivate: boolean): Promise<URL> {
  const url = parseWebhookUrl(value)
  if (allowPrivate) return url
  const host = url.hostname.replace(/^\[|\]$/g, '')
  let addresses: string[]
  if (ipaddr.isValid(host)) addresses = [host]
  else {
    try {
      addresses = (await dns.lookup(host, { all: true })).map((a) => a.address)
    } catch {
      throw new RefusedTargetError(`The name ${host} does not resolve.`)
    }
  }
  const refused = addresses.find((a) => !isPublicAddress(a))
  if (refused !== undefined) {
    throw new RefusedTargetError(
      `${host} is a private, loopback or link-local address (${refused}): webhooks only go to public addresses.`,
    )
  }
  return url
}

/**
 * A DNS lookup for http(s).request that refuses non-public answers, so the address connected to is
 * the address checked (a name that resolved to a public address when saved and to 127.0.0.1 now —
 * DNS rebinding — is refused at delivery).
 */
export function publicOnlyLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 4)
      const list = addresses as LookupAddress[]
      const refused = allowPrivate ? undefined : list.find((a) => !isPublicAddress(a.address))
      if (refused) {
        return callback(
          new RefusedTargetError(`${hostname} resolved to a non-public address (${refused.address})`),
          '',
          4,
        )
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list)
      const first = list[0]!
      callback(null, first.address, first.family)
    })
  }
}
