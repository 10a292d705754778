import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { generateSW } from 'workbox-build'
import { webDir } from '../server/paths.js'

/**
 * Builds the service worker into web/dist/sw.js (git-ignored): Workbox precaches the app shell
 * (CSS, client JS, icons, offline page), the home page is network-first with the last good copy
 * and then the offline page as fallbacks, and web/sw-extra.js adds push, notification buttons
 * and Background Sync of taps saved offline.
 */
export async function buildWeb(): Promise<{ count: number; size: number }> {
  const outDir = join(webDir, 'dist')
  await mkdir(outDir, { recursive: true })
  const { count, size, warnings } = await generateSW({
    swDest: join(outDir, 'sw.js'),
    globDirectory: webDir,
    globPatterns: ['app.css', 'app.js', 'queue.js', 'sw-extra.js', 'offline.html', 'icons/*.{svg,png}'],
    modifyURLPrefix: { '': '/static/' },
    importScripts: ['/static/queue.js', '/static/sw-extra.js'],
    inlineWorkboxRuntime: true,
    sourcemap: false,
    mode: 'production',
    cleanupOutdatedCaches: true,
    clientsClaim: true,
    skipWaiting: true,
    navigateFallback: undefined,
    runtimeCaching: [
      {
        urlPattern: ({ request, url }) => request.mode === 'navigate' && url.pathname === '/',
        handler: 'NetworkFirst',
        options: {
          cacheName: 'pages',
          networkTimeoutSeconds: 4,
          cacheableResponse: { statuses: [200] },
          precacheFallback: { fallbackURL: '/static/offline.html' },
        },
      },
      {
        urlPattern: ({ url }) => url.pathname === '/manifest.webmanifest',
        handler: 'StaleWhileRevalidate',
        options: { cacheName: 'manifest' },
      },
    ],
  })
  for (const warning of warnings) console.warn(warning)
  return { count, size }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { count, size } = await buildWeb()
  console.log(`web/dist/sw.js: ${count} files precached (${Math.round(size / 1024)} KB)`)
}
