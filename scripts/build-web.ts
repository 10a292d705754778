import { buildServiceWorker } from '../server/pwa/build-service-worker.js'

// `npm run build` runs this after tsc: the Workbox service worker goes to web/dist/sw.js.
const { count, size } = await buildServiceWorker()
console.log(`web/dist/sw.js: ${count} files precached (${Math.round(size / 1024)} KB)`)
