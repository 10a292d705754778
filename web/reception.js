// Reception pages: live updates over server-sent events, with a periodic refresh when the stream
// is down. The page is complete without this script; it only keeps it fresh. Nothing on the page
// is ever removed unless a fresh copy arrived, so a dropped network leaves the last list readable.
// The page says "Live" only while it is sure to hear every change: the stream is open, has been
// heard from lately (a dead connection on bad signal can stay "open" for minutes), and the server
// hears every process. Otherwise it says how old its list is, and fetches it every 30 s. A stream
// that fails is opened again after 5 s, then 10, 20 and every 30 s while the server stays away.
// On a roll call, marks are saved on the phone first (queue.js, the same queue as offline taps) and
// sent from there, so a marshal with no signal keeps working; the page says what is not yet sent.
;(() => {
  const Q = self.RegisterQueue
  const region = document.querySelector('[data-live-region]')
  const rollCallId = region?.getAttribute('data-roll-call')
  // The queue keeps each roll call's marks apart from the person's own taps.
  const owner = rollCallId ? `roll-call:${rollCallId}` : null
  const topics = (region?.getAttribute('data-live') ?? '').split(/\s+/).filter(Boolean)
  const pollMs = 30000
  // The server sends a keep-alive every 25 s: a stream silent for longer than this is dead.
  const silentMs = 60000
  // How long to wait before opening the stream again after the 1st, 2nd, 3rd… failure in a row.
  const reconnectMs = [5000, 10000, 20000, 30000]
  let timer = null
  let poller = null
  // When the list on screen was rendered, as the server wrote it (site time zone).
  let lastFresh = region?.getAttribute('data-updated') ?? ''
  const status = (text) => {
    for (const el of document.querySelectorAll('[data-live-status]')) el.textContent = text
  }
  let source = null
  // The server said it cannot hear every change for now (its Redis subscription is down).
  let paused = false
  let heardAt = Date.now()
  const live = () => source !== null && source.readyState === EventSource.OPEN && !paused
  const stale = () => status(`Reconnecting… showing the list as of ${lastFresh}`)
  // This phone may no longer see the list (signed out, device revoked, no longer reception): no
  // stream or fetch can succeed now, so stop trying and say what to do, keeping the list readable.
  let endedBecause = null
  function cannotSee(why) {
    endedBecause = why
    source?.close()
    stopPolling()
    clearTimeout(retry)
    clearTimeout(timer)
    clearTimeout(reconnect)
    status(`${why} · showing the list as of ${lastFresh}. Sign in again to see changes.`)
  }

  // Refreshes may overlap (an event, the poll, a mark sent) and answers may come back in any order
  // on a bad network: an answer to an earlier request never replaces a later one's on screen.
  class ServerError extends Error {}
  let asked = 0
  let shown = 0
  let retry = null
  async function refresh() {
    if (!region) return
    const mine = ++asked
    try {
      const response = await fetch(location.href, {
        headers: { accept: 'text/html', 'x-live-refresh': '1' },
        credentials: 'same-origin',
        cache: 'no-store',
      })
      // The login page, or a 403: this phone cannot see the list any more.
      if (response.redirected && new URL(response.url).pathname === '/login') return cannotSee('Signed out')
      if (response.status === 401 || response.status === 403)
        return cannotSee('No longer allowed to see this list')
      if (response.redirected) return
      if (!response.ok) throw new ServerError(response.status)
      const copy = response.clone()
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html')
      const fresh = doc.querySelector('[data-live-region]')
      if (!fresh || mine < shown) return
      shown = mine
      // The service worker serves the roll call from this cache with no signal: keep it current.
      if (owner && self.caches) {
        caches
          .open('pages')
          .then((cache) => cache.put(location.href, copy))
          .catch(() => {})
      }
      const focusedRow = document.activeElement?.closest('li[id]')?.id
      const focusedValue = document.activeElement?.getAttribute('value')
      region.innerHTML = fresh.innerHTML
      lastFresh = fresh.getAttribute('data-updated') ?? lastFresh
      bindForms()
      document.dispatchEvent(new Event('live:refreshed'))
      if (focusedRow) {
        const row = document.getElementById(focusedRow)
        const again = row?.querySelector(`button[value="${focusedValue}"]`) ?? row?.querySelector('button')
        again?.focus()
      }
      // Still paused (the server hears no other process for now): a fresher list, but not a live one.
      if (live()) status(`Live · updated ${lastFresh}`)
      else if (paused) stale()
      else status(`Updated ${lastFresh}`)
    } catch (error) {
      // The server (or a proxy before it) answered with an error: the network is fine.
      status(
        error instanceof ServerError
          ? `Server error · showing the list as of ${lastFresh}, retrying`
          : `Offline · showing the list as of ${lastFresh}`,
      )
      // The change that asked for this refresh is not on screen, and with the stream open nothing
      // else would fetch it (the 30 s poll runs only while the stream is down): try again.
      if (live() && !retry)
        retry = setTimeout(() => {
          retry = null
          refresh()
        }, 5000)
    }
  }

  // Changes close together are fetched once, but a steady stream of them (a roll call in full
  // swing) must not put the refresh off for as long as it lasts.
  function soon() {
    if (timer) return
    timer = setTimeout(() => {
      timer = null
      refresh()
    }, 400)
  }

  function startPolling() {
    if (!poller) poller = setInterval(refresh, pollMs)
  }
  function stopPolling() {
    clearInterval(poller)
    poller = null
  }

  // Streams that failed in a row (none since one opened), and the timer that opens the next.
  let failures = 0
  let reconnect = null
  // Each failure waits longer (the browser itself would try every 5 s for as long as the server is
  // away), and a little less at random, so that the boards a deploy cut off do not all come back
  // at the same moment.
  function reconnectLater() {
    if (reconnect || endedBecause) return
    const wait = reconnectMs[Math.min(failures, reconnectMs.length - 1)]
    failures++
    reconnect = setTimeout(connect, wait * (1 - 0.2 * Math.random()))
  }

  function connect() {
    clearTimeout(reconnect)
    reconnect = null
    source?.close()
    const stream = new EventSource('/reception/events')
    source = stream
    heardAt = Date.now()
    stream.addEventListener('open', () => {
      heardAt = Date.now()
      failures = 0
      paused = false
      stopPolling()
      status(`Live · updated ${lastFresh}`)
      // Anything may have changed while we were disconnected; marks saved meanwhile go now.
      soon()
      sendMarks()
    })
    stream.addEventListener('error', () => {
      if (endedBecause || stream !== source) return
      // The browser gave up on the stream (its reconnect was refused): a fetch of the page says
      // whether the server is away or this phone may no longer see the list.
      const refused = stream.readyState === EventSource.CLOSED
      // The page reconnects by itself, backing off, rather than the browser every 5 s.
      stream.close()
      stale()
      startPolling()
      reconnectLater()
      if (refused) refresh()
    })
    const on = (name, wanted) =>
      stream.addEventListener(name, (event) => {
        heardAt = Date.now()
        if (wanted(JSON.parse(event.data || '{}'))) soon()
      })
    on('keep-alive', () => false)
    on('presence', () => topics.includes('presence'))
    on('roll-call', (data) => topics.includes('roll-call') || topics.includes(`roll-call:${data.id}`))
    on('broadcast', (data) => topics.includes(`broadcast:${data.id}`))
    on('kiosk', () => topics.includes('kiosk'))
    on('paused', () => {
      paused = true
      stale()
      startPolling()
      return false
    })
    // What the server could not hear while paused is lost: fetch the page afresh.
    on('refresh', () => {
      paused = false
      if (live()) stopPolling()
      return true
    })
  }

  // A stream can die without an error: a dead connection on bad signal stays "open" for minutes.
  function watch() {
    if (endedBecause || reconnect) return
    if (source.readyState !== EventSource.OPEN || Date.now() - heardAt <= silentMs) return
    stale()
    startPolling()
    connect()
  }

  if (region && 'EventSource' in window) {
    connect()
    setInterval(watch, 5000)
    // The phone has a network again: no need to wait out the back-off.
    window.addEventListener('online', () => {
      if (reconnect) connect()
    })
  } else if (region) {
    startPolling()
  }

  const statusWords = { safe: 'safe', missing: 'missing', help: 'needs help', unaccounted: 'unaccounted' }
  const clock = (ms) => new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
  const csrfToken = () => document.querySelector('input[name="_csrf"]')?.value
  // Marks the server refused for good (e.g. made after the roll call ended), to say so.
  let refused = []
  let stoppedBy = null

  /**
   * Shows a line as marked (Undo after "safe", Safe and Missing otherwise; Missing after "safe" on a
   * line with no Undo, someone not on the list), as the server renders it.
   */
  function showMark(row, mark) {
    const undo = row.querySelector('button[name="status"][value="unaccounted"]') !== null
    row.className = row.className.replace(/\bmark-\w+/, `mark-${mark.status}`)
    row.classList.add('pending')
    const words = row.querySelector('[data-status]')
    if (words) words.textContent = statusWords[mark.status] || mark.status
    const marked = row.querySelector('[data-marked]')
    if (marked) marked.textContent = ` · marked on this phone at ${clock(mark.at)}, not sent yet`
    for (const b of row.querySelectorAll('button[name="status"]')) {
      b.hidden =
        b.value === 'unaccounted'
          ? mark.status !== 'safe'
          : b.value === 'safe'
            ? mark.status === 'safe'
            : (mark.status === 'safe' && undo) || mark.status === 'missing'
    }
  }

  /** Lays the marks saved on this phone over the list, and says how many are not sent yet. */
  async function showPending() {
    const banner = document.querySelector('[data-pending-marks]')
    if (!owner || !Q || !banner) return
    const pending = await Q.pendingTaps(owner).catch(() => [])
    const latest = new Map()
    for (const mark of pending) latest.set(mark.body.person, mark)
    for (const [person, mark] of latest) {
      const row = document.querySelector(`li[data-person="${person}"]`)
      if (row) showMark(row, { status: mark.body.status, at: mark.at })
    }
    const lines = []
    if (pending.length) {
      const n = pending.length
      lines.push(
        `${n} ${n === 1 ? 'mark' : 'marks'} not sent yet: saved on this phone, ${
          stoppedBy === 'auth'
            ? 'but this phone is no longer signed in. Sign in again to send them.'
            : 'and sent by themselves when there is signal. Keep this page open.'
        }`,
      )
    }
    for (const r of refused) lines.push(`Not applied: ${r.message}`)
    banner.textContent = lines.join(' ')
    banner.hidden = lines.length === 0
  }

  /** Sends the marks saved on this phone, oldest first; each counts once however often it is sent. */
  let sending = null
  function sendMarks() {
    if (!owner || !Q) return Promise.resolve()
    sending ??= (async () => {
      try {
        if ((await Q.pendingTaps(owner)).length === 0) return
        const { results, stopped } = await Q.replay(owner, csrfToken())
        stoppedBy = stopped
        refused = refused.concat(results.filter((r) => !r.ok))
        if (results.length) await refresh()
      } catch {
        // No storage or no network: the marks stay saved and the banner says so.
      } finally {
        sending = null
        await showPending()
      }
    })()
    return sending
  }

  /** Sends a mark straight away (no storage on this phone, e.g. a private window). */
  async function sendNow(form, body) {
    for (const b of form.querySelectorAll('button')) b.disabled = true
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        body,
        headers: { accept: 'application/json' },
        credentials: 'same-origin',
      })
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}))
        throw new Error(problem.error || 'Not saved.')
      }
      await refresh()
    } catch (error) {
      for (const b of form.querySelectorAll('button')) b.disabled = false
      let note = form.querySelector('.error')
      if (!note) {
        note = document.createElement('p')
        note.className = 'error'
        note.setAttribute('role', 'alert')
        form.append(note)
      }
      note.textContent =
        error instanceof TypeError
          ? 'Not saved: no connection. Tap again when you are back online.'
          : error.message
    }
  }

  // Marks are made without leaving the page: saved on the phone, shown at once, sent when possible.
  function bindForms() {
    for (const form of document.querySelectorAll('form[data-mark-form]')) {
      if (form.dataset.bound) continue
      form.dataset.bound = '1'
      form.addEventListener('submit', async (event) => {
        event.preventDefault()
        const body = new URLSearchParams(new FormData(form))
        if (event.submitter?.name) body.set(event.submitter.name, event.submitter.value)
        const mark = { person: body.get('person'), status: body.get('status') }
        try {
          if (!Q || !owner) throw new Error('no queue')
          await Q.addTap('mark', owner, undefined, { url: form.getAttribute('action'), body: mark })
        } catch {
          return sendNow(form, body)
        }
        await showPending()
        // The tapped button is hidden now: keep the focus on the line's other button.
        form.querySelector('button:not([hidden])')?.focus()
        await sendMarks()
      })
    }
  }
  bindForms()
  document.addEventListener('live:refreshed', () => {
    showPending()
  })
  if (owner) {
    window.addEventListener('online', () => {
      sendMarks()
    })
    // Signal at an assembly point comes and goes, often without an `online` event.
    setInterval(sendMarks, 15000)
    showPending().then(sendMarks)
  }

  // When a roll call starts, the board keeps a copy of it on this phone at once, so it opens
  // with no signal at the assembly point even if nobody opened it here before leaving.
  async function keepRollCall() {
    const link = document.querySelector('a[data-roll-call-link]')
    if (!link || !self.caches) return
    try {
      const cache = await caches.open('pages')
      if (await cache.match(link.href, { ignoreVary: true })) return
      const response = await fetch(link.href, { credentials: 'same-origin' })
      if (response.ok && !response.redirected) await cache.put(link.href, response)
    } catch {}
  }
  if (!owner) {
    keepRollCall()
    document.addEventListener('live:refreshed', keepRollCall)
  }

  // Roll call: find a name as you type (200 people on a phone); the form also works without JS.
  const search = document.querySelector('[data-roll-call-search] input[type="search"]')
  function filterNames() {
    if (!search) return
    const q = search.value.trim().toLocaleLowerCase()
    for (const row of document.querySelectorAll('li[data-name]')) {
      row.hidden = q !== '' && !row.getAttribute('data-name').includes(q)
    }
  }
  search?.addEventListener('input', filterNames)
  document.addEventListener('live:refreshed', filterNames)

  for (const button of document.querySelectorAll('[data-print]')) {
    button.addEventListener('click', () => window.print())
  }
})()
