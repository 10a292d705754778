import { mkdir, rename } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { webDir } from '../paths.js'
import { staticAssets } from './assets.js'

/** Where the build writes the service worker (web/dist is git-ignored). */
export const serviceWorkerPath = join(webDir, 'dist', 'sw.js')

/**
 * Builds the service worker into web/dist/sw.js (git-ignored): Workbox precaches the app shell
 * (CSS, client JS, icons, offline page), the home page is network-first with the last good copy
 * and then the offline page as fallbacks (so is a roll call, for marshals with no signal), and web/sw-extra.js adds push, notification buttons
 * and Background Sync of taps saved offline.
 */
export async function buildServiceWorker(): Promise<{ count: number; size: number }> {
  await mkdir(dirname(serviceWorkerPath), { recursive: true })
  const assets = staticAssets(webDir, { recheck: false })
  // Written aside and renamed, so a server reading sw.js never sees half a file.
  const temporary = `${serviceWorkerPath}.${process.pid}.${Date.now()}.tmp.js`
  // Loaded on demand: Workbox's build tooling costs ~70 MB, needed only when the worker is built.
  const { generateSW } = await import('workbox-build')
  const { count, size, warnings } = await generateSW({
    swDest: temporary,
    globDirectory: webDir,
    globPatterns: ['app.css', 'app.js', 'queue.js', 'sw-extra.js', 'offline.html', 'icons/*.{svg,png}'],
    modifyURLPrefix: { '': '/static/' },
    // Pages link to /static/app.css?v=<content hash>: the precached copy answers whatever the hash.
    ignoreURLParametersMatching: [/^v$/, /^utm_/],
    // Fingerprinted, so the browser's update checks find them in its HTTP cache (a year, immutable).
    importScripts: [assets.url('queue.js'), assets.url('sw-extra.js')],
    inlineWorkboxRuntime: true,
    sourcemap: false,
    mode: 'production',
    cleanupOutdatedCaches: true,
    clientsClaim: true,
    skipWaiting: true,
    navigateFallback: undefined,
    runtimeCaching: [
      {
        // The home page, "Your visits" and the profile (what a person last saw, shown offline with
        // a note saying so), and the kiosk page (a tablet at the door keeps working when the network drops).
        urlPattern: ({ request, url }) =>
          request.mode === 'navigate' && ['/', '/history', '/profile', '/kiosk'].includes(url.pathname),
        handler: 'NetworkFirst',
        options: {
          cacheName: 'pages',
          networkTimeoutSeconds: 4,
          cacheableResponse: { statuses: [200] },
          plugins: [
            {
              // A copy from the cache is marked as one, so the page can say it is offline (web/app.js).
              cachedResponseWillBeUsed: async ({ cachedResponse }) => {
                if (!cachedResponse) return cachedResponse
                const html = await cachedResponse.text()
                return new Response(html.replace('id="offline-note"', 'id="offline-note" data-from-cache'), {
                  status: cachedResponse.status,
                  headers: cachedResponse.headers,
                })
              },
            },
          ],
          precacheFallback: { fallbackURL: '/static/offline.html' },
        },
      },
      {
        // A roll call a marshal opened (or the board kept when it started) opens again with no
        // signal at the assembly point: the last copy, with the marks saved on the phone laid over
        // it by reception.js. The page's live refreshes keep this copy current.
        urlPattern: ({ request, url }) =>
          request.mode === 'navigate' && /^\/reception\/roll-calls\/\d+$/.test(url.pathname),
        handler: 'NetworkFirst',
        options: {
          cacheName: 'pages',
          networkTimeoutSeconds: 4,
          cacheableResponse: { statuses: [200] },
          // Copies stored by the page's script carry no request headers to vary on.
          matchOptions: { ignoreVary: true },
          precacheFallback: { fallbackURL: '/static/offline.html' },
        },
      },
      {
        // The reception script, for the roll call offline: cached when first used, like the kiosk's.
        urlPattern: ({ url }) => url.pathname === '/static/reception.js',
        handler: 'StaleWhileRevalidate',
        options: { cacheName: 'reception' },
      },
      {
        // The kiosk's own files: cached when first used, so phones never download them.
        urlPattern: ({ url }) => /^\/static\/(kiosk|badge)/.test(url.pathname),
        handler: 'StaleWhileRevalidate',
        options: { cacheName: 'kiosk' },
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
