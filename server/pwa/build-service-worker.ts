import { mkdir, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { webDir } from '../paths.js'

/** Where the build writes the service worker (web/dist is git-ignored). */
export const serviceWorkerPath = join(webDir, 'dist', 'sw.js')

/**
 * Builds the service worker into web/dist/sw.js (git-ignored): Workbox precaches the app shell
 * (CSS, client JS, icons, offline page), the home page is network-first with the last good copy
 * and then the offline page as fallbacks, and web/sw-extra.js adds push, notification buttons
 * and Background Sync of taps saved offline.
 */
export async function buildServiceWorker(): Promise<{ count: number; size: number }> {
  await mkdir(dirname(serviceWorkerPath), { recursive: true })
  // Written aside and renamed, so a server reading sw.js never sees half a file.
  const temporary = `${serviceWorkerPath}.${process.pid}.${Date.now()}.tmp.js`
  // Loaded on demand: Workbox's build tooling costs ~70 MB, needed only when the worker is built.
  const { generateSW } = await import('workbox-build')
  const { count, size, warnings } = await generateSW({
    swDest: temporary,
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
  await rename(temporary, serviceWorkerPath)
  for (const warning of warnings) console.warn(warning)
  return { count, size }
}
