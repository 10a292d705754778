import * as oidc from 'openid-client'
import type { SsoProviderConfig } from '../config.js'
import { UserError } from '../lib/errors.js'

/** How the relying party reaches providers: the real network, or (in tests) a fake at the wire. */
export interface SsoNetwork {
  /** A fetch for every request openid-client makes (discovery, token, keys). */
  fetch?: oidc.CustomFetch
}

/** Discovery is repeated after this long, so a provider's new endpoints are picked up. */
const DISCOVERY_TTL_MS = 12 * 60 * 60_000

/**
 * The configured providers and their openid-client configurations, discovered on first use and
 * kept for a while. Each process discovers for itself: the cache holds the provider's public
 * metadata, nothing another process needs to see.
 */
export class SsoClients {
  private readonly discovered = new Map<string, { at: number; config: Promise<oidc.Configuration> }>()

  constructor(
    readonly providers: readonly SsoProviderConfig[],
    private readonly network: SsoNetwork = {},
  ) {}

  /** The provider with this id, or a 404. */
  provider(id: string): SsoProviderConfig {
    const found = this.providers.find((p) => p.id === id)
    if (!found) throw new UserError(404, 'There is no such sign-in option.')
    return found
  }

  /** The provider's openid-client configuration; a provider out of reach is a 503 the person can read. */
  async configuration(provider: SsoProviderConfig, now: number): Promise<oidc.Configuration> {
    let entry = this.discovered.get(provider.id)
    if (!entry || now - entry.at > DISCOVERY_TTL_MS) {
      const options: oidc.DiscoveryRequestOptions = {
        ...(this.network.fetch ? { [oidc.customFetch]: this.network.fetch } : {}),
        // Plain http issuers are refused in production by config; elsewhere (a local Keycloak) allowed.
        execute: provider.discoveryUrl.startsWith('http:') ? [oidc.allowInsecureRequests] : [],
        timeout: 10,
      }
      const config = oidc.discovery(
        new URL(provider.discoveryUrl),
        provider.clientId,
        provider.clientSecret,
        undefined,
        options,
      )
      entry = { at: now, config }
      this.discovered.set(provider.id, entry)
      config.catch(() => {
        if (this.discovered.get(provider.id) === entry) this.discovered.delete(provider.id)
      })
    }
    try {
      return await entry.config
    } catch {
      throw new UserError(
        503,
        `${provider.label} is not reachable right now. Try again in a minute, or sign in with a code.`,
      )
    }
  }
}
