import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium } from 'playwright-core'

/** Debian's Chromium; tests and scripts never download a browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Whether the system Chromium is installed (scripts/test.sh installs it with apt when missing). */
export function hasChromium(): boolean {
  return existsSync(chromiumPath)
}

const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/** Launches headless Debian Chromium with the flags the house style asks for. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args })
}

/**
 * Launches Chromium with a throwaway (non-incognito) profile, as installability checks need;
 * the profile folder is deleted when the context closes.
 */
export async function launchChromiumProfile(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const dir = mkdtempSync(join(tmpdir(), 'register-chromium-'))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: chromiumPath,
    headless: true,
    args,
    ...options,
  })
  context.on('close', () => {
    // Chromium may still be writing its last files as it exits; a leftover temp folder is harmless.
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 })
    } catch {}
  })
  return context
}
