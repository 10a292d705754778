/* Building Register: taps saved on this device while offline, shared by the page and the service
   worker. Classic script: it defines self.RegisterQueue. */
;((scope) => {
  const DB_NAME = 'building-register'
  let opening

  function open() {
    if (!opening) {
      opening = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB_NAME, 1)
        request.onupgradeneeded = () => {
          request.result.createObjectStore('taps', { keyPath: 'key' })
          request.result.createObjectStore('state', { keyPath: 'id' })
        }
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    }
    return opening
  }

  async function run(store, mode, work) {
    const db = await open()
    return new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode)
      const request = work(tx.objectStore(store))
      tx.oncomplete = () => resolve(request ? request.result : undefined)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  }

  function newKey() {
    if (scope.crypto && typeof scope.crypto.randomUUID === 'function') return scope.crypto.randomUUID()
    const bytes = scope.crypto.getRandomValues(new Uint8Array(16))
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  }

  /**
   * Saves a tap with its real time, the day of the page it was made on, and a fresh idempotency key.
   * A kiosk saves its own requests the same way: `request` names the URL and the fields to send.
   */
  async function addTap(action, personId, pageDay, request) {
    const tap = { key: newKey(), action, at: Date.now(), personId, pageDay, ...(request || {}) }
    await run('taps', 'readwrite', (s) => s.put(tap))
    return tap
  }

  /** The taps still to send, oldest first (the server needs them in order). */
  async function pendingTaps(personId) {
    const all = (await run('taps', 'readonly', (s) => s.getAll())) || []
    return all.filter((t) => t.personId === personId).sort((a, b) => a.at - b.at)
  }

  /** The person's last known state: { id: 'me', personId, name, state, since, at, csrf }. */
  async function loadState() {
    return run('state', 'readonly', (s) => s.get('me'))
  }

  async function saveState(state) {
    await run('state', 'readwrite', (s) => s.put({ ...state, id: 'me' }))
  }

  /** Forgets everything this device knows about the person (after logging out). */
  async function clearAll() {
    // Nothing was ever saved here (the login page of a new device): do not create the database
    // only to empty it.
    if (typeof indexedDB.databases === 'function') {
      const databases = await indexedDB.databases()
      if (!databases.some((d) => d.name === DB_NAME)) return
    }
    await run('taps', 'readwrite', (s) => s.clear())
    await run('state', 'readwrite', (s) => s.clear())
  }

  function send(tap, csrf) {
    return fetch(tap.url || '/taps', {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'manual',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        ...(tap.body || {}),
        action: tap.action,
        at: tap.at,
        sentAt: Date.now(),
        key: tap.key,
        ...(tap.pageDay ? { pageDay: tap.pageDay } : {}),
        _csrf: csrf,
      }),
    })
  }

  /** Why sending stopped, by the answer: the device is not signed in ('auth') or try later ('server'). */
  const stoppedBy = (response) =>
    response.type === 'opaqueredirect' || response.status === 401 || response.status === 403
      ? 'auth'
      : 'server'

  /**
   * A CSRF token for this device's session as it is now ({ token }), or why there is none
   * ({ stopped }). The token a page (or the service worker) kept dies with its session: a day
   * without a tap, or a browser restart (the session cookie goes), while the device stays signed in.
   */
  async function freshToken() {
    const response = await fetch('/taps/token', {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'manual',
      cache: 'no-store',
      headers: { accept: 'application/json' },
    })
    const body = response.ok ? await response.json().catch(() => ({})) : {}
    return typeof body.csrf === 'string' ? { token: body.csrf } : { stopped: stoppedBy(response) }
  }

  async function sendAll(personId, csrf) {
    const results = []
    let token = csrf
    let renewed = false
    for (const tap of await pendingTaps(personId)) {
      let response
      try {
        response = await send(tap, token)
        // A refused token is renewed once per run, and the same tap sent again with it.
        if (response.status === 403 && !renewed) {
          renewed = true
          const fresh = await freshToken()
          if (fresh.stopped) return { results, stopped: fresh.stopped }
          token = fresh.token
          response = await send(tap, token)
        }
      } catch {
        return { results, stopped: 'offline' }
      }
      // Not recognised (the device was signed out), or still refused with a fresh token: keep the tap.
      if (stoppedBy(response) === 'auth') return { results, stopped: 'auth' }
      // 409: the same tap is being applied by another request right now; ask again later.
      if (response.status === 409 || response.status === 429 || response.status >= 500) {
        return { results, stopped: 'server' }
      }
      let body = {}
      try {
        body = await response.json()
      } catch {}
      // Applied, already applied, or refused for good (e.g. older than 12 hours): either way done.
      await run('taps', 'readwrite', (s) => s.delete(tap.key))
      results.push({ tap, ok: response.ok, message: body.message || body.error || '' })
    }
    return { results, stopped: null }
  }

  /**
   * Sends pending taps oldest first, one at a time. A lock keeps the page and the service worker
   * from sending the same tap twice at once (the server would still apply it only once).
   */
  async function replay(personId, csrf) {
    if (scope.navigator?.locks) {
      return scope.navigator.locks.request('building-register-taps', () => sendAll(personId, csrf))
    }
    return sendAll(personId, csrf)
  }

  scope.RegisterQueue = { addTap, pendingTaps, loadState, saveState, clearAll, replay }
})(self)
