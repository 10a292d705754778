/* Building Register: the service worker's own events, imported by the Workbox-built sw.js. */
/* global RegisterQueue, clients, registration */

async function replayTaps() {
  const me = await RegisterQueue.loadState()
  if (!me) return
  const { results, stopped } = await RegisterQueue.replay(me.personId, me.csrf)
  if (results.length) {
    for (const client of await clients.matchAll({ type: 'window' }))
      client.postMessage({ type: 'taps-synced' })
  }
  // Throwing asks the browser to retry the sync later.
  if (stopped === 'offline' || stopped === 'server') throw new Error(`taps not synced: ${stopped}`)
}

self.addEventListener('sync', (event) => {
  if (event.tag === 'taps') event.waitUntil(replayTaps())
})

self.addEventListener('push', (event) => {
  let payload = {}
  try {
    payload = event.data ? event.data.json() : {}
  } catch {
    payload = { title: 'Building Register', body: event.data ? event.data.text() : '' }
  }
  event.waitUntil(
    registration.showNotification(payload.title || 'Building Register', {
      body: payload.body || '',
      tag: payload.tag,
      icon: '/static/icons/icon-192.png',
      badge: '/static/icons/icon-192.png',
      actions: payload.actions || [],
      data: payload.data || {},
      requireInteraction: Boolean(payload.actions?.length),
    }),
  )
})

async function answer(action, data) {
  const response = await fetch('/push/action', {
    method: 'POST',
    credentials: 'omit',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ token: data.token, action }),
  })
  const body = await response.json().catch(() => ({}))
  await registration.showNotification('Building Register', {
    body: body.message || body.error || 'Open the app to check your state.',
    tag: 'reminder-answer',
    icon: '/static/icons/icon-192.png',
  })
}

self.addEventListener('notificationclick', (event) => {
  const data = event.notification.data || {}
  event.notification.close()
  if ((event.action === 'left' || event.action === 'still-here') && data.token) {
    event.waitUntil(answer(event.action, data))
    return
  }
  event.waitUntil(
    (async () => {
      const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true })
      const open = windows.find((w) => new URL(w.url).pathname === '/')
      if (open) return open.focus()
      return clients.openWindow(data.url || '/')
    })(),
  )
})
