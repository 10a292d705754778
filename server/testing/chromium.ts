import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, type BrowserContextOptions, chromium } from 'playwright-core'
import QRCode from 'qrcode'

/** Debian's Chromium; tests and scripts never download a browser. */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Fails, saying what to install, when there is no Chromium at `path`: a browser test that cannot
 * find its browser fails rather than skips (scripts/test.sh installs Debian's chromium when missing).
 */
export function requireChromium(path = chromiumPath): string {
  if (!existsSync(path)) {
    throw new Error(
      `This browser test needs Chromium at ${path}: run \`apt-get install chromium\` (scripts/test.sh does) or set CHROMIUM_PATH.`,
    )
  }
  return path
}

/** The flags every launch here uses (the house style's list). */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * Launches headless Debian Chromium with the flags the house style asks for, plus any extra ones
 * (e.g. `fakeCameraArgs`); fails, saying what to install, if it is missing.
 */
export async function launchChromium(
  extraArgs: readonly string[] = [],
  path = chromiumPath,
): Promise<Browser> {
  return chromium.launch({
    executablePath: requireChromium(path),
    headless: true,
    args: [...chromiumArgs, ...extraArgs],
  })
}

/** Chromium's own test camera (a moving pattern), granted without a permission prompt. */
export const fakeCameraArgs = ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream']

/**
 * Flags for a fake camera that films a QR code of `text` (someone holding a badge or an invitation
 * up to the tablet): Chromium plays a Y4M file as the camera. The file is written to `dir`.
 */
export function fakeCameraFilming(text: string, dir: string): string[] {
  const width = 640
  const height = 480
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' })
  const scale = Math.floor(Math.min(width, height) / (modules.size + 8))
  const left = Math.floor((width - modules.size * scale) / 2)
  const top = Math.floor((height - modules.size * scale) / 2)
  const luma = Buffer.alloc(width * height, 235)
  for (let y = 0; y < modules.size * scale; y++) {
    for (let x = 0; x < modules.size * scale; x++) {
      if (modules.get(Math.floor(y / scale), Math.floor(x / scale))) luma[(top + y) * width + left + x] = 16
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, 128)
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma])
  const file = join(dir, 'camera.y4m')
  writeFileSync(
    file,
    Buffer.concat([Buffer.from(`YUV4MPEG2 W${width} H${height} F10:1 Ip A1:1 C420jpeg\n`), frame, frame]),
  )
  return [...fakeCameraArgs, `--use-file-for-fake-video-capture=${file}`]
}

/**
 * Launches Chromium with a throwaway (non-incognito) profile, as installability checks need;
 * the profile folder is deleted when the context closes. Fails if Chromium is missing.
 */
export async function launchChromiumProfile(options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const executablePath = requireChromium()
  const dir = mkdtempSync(join(tmpdir(), 'register-chromium-'))
  const context = await chromium.launchPersistentContext(dir, {
    executablePath,
    headless: true,
    args: chromiumArgs,
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
