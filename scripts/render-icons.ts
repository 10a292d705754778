import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { webDir } from '../server/paths.js'
import { launchChromium } from '../server/testing/chromium.js'

/**
 * Renders the PNG app icons from web/icons/icon.svg with headless Chromium. Run once after
 * changing the SVG (`npm run icons`) and commit the PNGs; the build does not need a browser.
 */
async function renderIcons(): Promise<void> {
  const svg = await readFile(join(webDir, 'icons', 'icon.svg'), 'utf8')
  const dataUrl = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    // Maskable icons keep everything that matters inside the central 80% "safe zone" on a full bleed.
    const targets = [
      { file: 'icon-192.png', size: 192, maskable: false },
      { file: 'icon-512.png', size: 512, maskable: false },
      { file: 'apple-touch-icon.png', size: 180, maskable: true },
      { file: 'icon-maskable-512.png', size: 512, maskable: true },
    ]
    for (const { file, size, maskable } of targets) {
      await page.setViewportSize({ width: size, height: size })
      const inner = maskable ? Math.round(size * 0.8) : size
      await page.setContent(
        `<html><body style="margin:0;width:${size}px;height:${size}px;display:grid;place-items:center;background:${maskable ? '#1d3557' : 'transparent'}"><img src="${dataUrl}" width="${inner}" height="${inner}"></body></html>`,
      )
      const png = await page.screenshot({ omitBackground: !maskable, type: 'png' })
      await writeFile(join(webDir, 'icons', file), png)
      console.log(`web/icons/${file} (${size}x${size}${maskable ? ', maskable' : ''})`)
    }
  } finally {
    await browser.close()
  }
}

await renderIcons()
