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
   * `seq` numbers the taps in the order they were saved (one more than any tap still waiting, read
   * and written in one transaction): the device's clock can go back between two taps (network
   * time correcting it), so `at` cannot say which came first.
   */
  async function addTap(action, personId, pageDay, request) {
    const tap = { key: newKey(), action, at: Date.now(), personId, pageDay, ...(request || {}) }
    await run('taps', 'readwrite', (s) => {
      s.getAll().onsuccess = (event) => {
        tap.seq = event.target.result.reduce((last, t) => Math.max(last, t.seq || 0), 0) + 1
        s.put(tap)
      }
    })
    return tap
  }

  /**
   * Save order: taps saved before taps had a `seq` (by an older version of this file) first, by
   * their time, as that version sent them; then by `seq`.
   */
  const bySaveOrder = (a, b) =>
    a.seq === undefined || b.seq === undefined
      ? (a.seq === undefined ? 0 : 1) - (b.seq === undefined ? 0 : 1) || a.at - b.at
      : a.seq - b.seq

  /** The taps still to send, in the order they were made (the server needs them in order). */
  async function pendingTaps(personId) {
    const all = (await run('taps', 'readonly', (s) => s.getAll())) || []
    return all.filter((t) => t.personId === personId && !t.refused).sort(bySaveOrder)
  }

  /**
   * Saved requests the server refused for good that were saved with `keepIfRefused` (a kiosk's
   * visitor sign-in: someone was told they are in), each with `refused: { status, message, at }`,
   * kept until a person dismisses them.
   */
  async function refusedTaps(personId) {
    const all = (await run('taps', 'readonly', (s) => s.getAll())) || []
    return all.filter((t) => t.personId === personId && t.refused).sort(bySaveOrder)
  }

  /** Forgets a refused request once a person has seen it (see refusedTaps). */
  async function dismissRefused(key) {
    await run('taps', 'readwrite', (s) => s.delete(key))
  }

  /** Whether this device ever saved anything (so that only looking does not create the database). */
  async function anythingSaved() {
    if (typeof indexedDB.databases !== 'function') return true
    return (await indexedDB.databases()).some((d) => d.name === DB_NAME)
  }

  /**
   * Every saved request, waiting or refused, whose owner `match(owner)` accepts, in save order: a
   * kiosk tablet's pairing page lists what its earlier pairings left.
   */
  async function savedTaps(match) {
    if (!(await anythingSaved())) return []
    const all = (await run('taps', 'readonly', (s) => s.getAll())) || []
    return all.filter((t) => match(t.personId)).sort(bySaveOrder)
  }

  /**
   * Makes `owner` the owner of every saved request whose owner `match(owner)` accepts, each as
   * `change(request)` returns it (given it as it was saved), in one transaction, under the lock
   * replay takes: a kiosk tablet paired anew sends what it saved before as its own. Their order stays.
   */
  async function adoptTaps(match, owner, change) {
    const adopt = () =>
      run('taps', 'readwrite', (s) => {
        s.getAll().onsuccess = (event) => {
          for (const tap of event.target.result)
            if (tap.personId !== owner && match(tap.personId)) s.put({ ...change(tap), personId: owner })
        }
      })
    if (scope.navigator?.locks) return scope.navigator.locks.request('building-register-taps', adopt)
    return adopt()
  }

  /** The person's last known state: { id: 'me', personId, name, state, since, at, csrf }. */
  async function loadState() {
    return run('state', 'readonly', (s) => s.get('me'))
  }

  async function saveState(state) {
    await run('state', 'readwrite', (s) => s.put({ ...state, id: 'me' }))
  }

  /** What a kiosk saves belongs to `kiosk:<its id>`; a person's taps to their id. */
  const kioskOwned = (owner) => typeof owner === 'string' && owner.startsWith('kiosk:')

  /**
   * Forgets everything this device knows about the person (after logging out): their state and
   * taps. Never a kiosk's saved sign-ins: the kiosk's tablet may open the staff login page too, and
   * each is a visitor inside who was told they are signed in.
   */
  async function clearAll() {
    // Nothing was ever saved here (the login page of a new device): do not create the database
    // only to empty it.
    if (!(await anythingSaved())) return
    await run('taps', 'readwrite', (s) => {
      s.openCursor().onsuccess = (event) => {
        const cursor = event.target.result
        if (!cursor) return
        if (!kioskOwned(cursor.value.personId)) cursor.delete()
        cursor.continue()
      }
    })
    await run('state', 'readwrite', (s) => s.clear())
  }

  /**
   * When each tap was sent, for the server to work out its age (`sentAt - at`), from one reading of
   * the clock (`now`) for the whole run. A tap's `at` cannot change: the server binds its key to it.
   * If the clock went back after a tap was saved, by the `at` of a tap saved after it or by `now`,
   * its age is made longer by as much (the least the clock went back), so no tap is taken as made
   * after one made later, or in the future. One reading for the run, with the taps sent one after
   * another, keeps the server's times in the order the taps were made.
   */
  function sendTimes(taps, now) {
    const times = new Map()
    let next = now
    for (let i = taps.length - 1; i >= 0; i--) {
      const tap = taps[i]
      next = Math.min(tap.at, next)
      times.set(tap.key, now + (tap.at - next))
    }
    return times
  }

  function send(tap, csrf, sentAt) {
    return fetch(tap.url || '/taps', {
      method: 'POST',
      credentials: 'same-origin',
      redirect: 'manual',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        ...(tap.body || {}),
        action: tap.action,
        at: tap.at,
        sentAt,
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
    const taps = await pendingTaps(personId)
    const sentAt = sendTimes(taps, Date.now())
    for (const tap of taps) {
      let response
      try {
        response = await send(tap, token, sentAt.get(tap.key))
        // A refused token is renewed once per run, and the same tap sent again with it.
        if (response.status === 403 && !renewed) {
          renewed = true
          const fresh = await freshToken()
          if (fresh.stopped) return { results, stopped: fresh.stopped }
          token = fresh.token
          response = await send(tap, token, sentAt.get(tap.key))
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
      const message = body.message || body.error || ''
      // Applied, already applied, or refused for good (e.g. older than 12 hours): either way not
      // sent again. A refused request saved with `keepIfRefused` stays, marked, for a person to see.
      if (!response.ok && tap.keepIfRefused) {
        const refused = { status: response.status, message, at: Date.now() }
        await run('taps', 'readwrite', (s) => s.put({ ...tap, refused }))
      } else {
        await run('taps', 'readwrite', (s) => s.delete(tap.key))
      }
      results.push({ tap, ok: response.ok, message })
    }
    return { results, stopped: null }
  }

  /**
   * Sends pending taps in the order they were made, one at a time. A lock keeps the page and the
   * service worker from sending the same tap twice at once (the server would still apply it once).
   */
  async function replay(personId, csrf) {
    if (scope.navigator?.locks) {
      return scope.navigator.locks.request('building-register-taps', () => sendAll(personId, csrf))
    }
    return sendAll(personId, csrf)
  }

  scope.RegisterQueue = {
    addTap,
    pendingTaps,
    refusedTaps,
    dismissRefused,
    savedTaps,
    adoptTaps,
    loadState,
    saveState,
    clearAll,
    kioskOwned,
    replay,
  }
})(self)
