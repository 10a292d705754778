/* Building Register: the kiosk at the door. One page of screens; every action is a JSON call to
   /kiosk/api, and a visitor's sign-in made with no network is kept in the phone's offline queue
   (queue.js) and sent once, with its real time, when the network is back. On the pairing page it
   lists the sign-ins the tablet still holds from when it was a kiosk. */
;(() => {
  const Q = self.RegisterQueue
  const clock = (ms) => {
    const at = new Date(ms)
    const time = at.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
    return at.toDateString() === new Date().toDateString()
      ? time
      : `${at.toLocaleDateString('en-GB', { weekday: 'short', day: 'numeric', month: 'short' })} ${time}`
  }
  const visitorName = (tap) => (tap.body?.name || '').trim() || 'A visitor'
  const refusal = (tap) => (tap.refused.message || `refused (${tap.refused.status})`).replace(/\.$/, '')

  const root = document.getElementById('kiosk')
  if (!root) {
    listSavedOnPairingPage()
    return
  }

  // The pairing page of a tablet that was a kiosk (unpaired, removed, or about to be paired anew):
  // the sign-ins it saved and has not sent are nowhere else, so it shows them until it is paired.
  async function listSavedOnPairingPage() {
    const box = document.getElementById('kiosk-saved')
    if (!box || !Q) return
    const saved = await Q.savedTaps(Q.kioskOwned).catch(() => [])
    if (saved.length === 0) return
    const n = saved.length
    const head = document.createElement('p')
    head.className = 'kiosk-refused-head'
    head.textContent = `${n} sign-in${n === 1 ? '' : 's'} saved on this tablet ${n === 1 ? 'has' : 'have'} not reached the register:`
    const list = document.createElement('ul')
    for (const tap of saved) {
      const li = document.createElement('li')
      li.textContent = `${visitorName(tap)}, ${clock(tap.at)}${tap.refused ? ` — refused: ${refusal(tap)}` : ''}`
      list.append(li)
    }
    const tell = document.createElement('p')
    tell.textContent = `Pair this tablet to send ${n === 1 ? 'it' : 'them'} (as this kiosk or another), or tell reception now: until then ${n === 1 ? 'this visitor' : 'these visitors'} may not be on the fire list.`
    box.replaceChildren(head, list, tell)
    box.hidden = false
  }

  const $ = (id) => document.getElementById(id)
  const owner = `kiosk:${root.dataset.kiosk}`
  let csrf = root.dataset.csrf
  let idleTimer
  let doorTimer

  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {})

  // ---- screens ----
  function show(name) {
    for (const screen of document.querySelectorAll('.kiosk-screen'))
      screen.hidden = screen.id !== `screen-${name}`
    const heading = document.querySelector(`#screen-${name} h1`)
    if (heading) {
      heading.tabIndex = -1
      heading.focus()
    }
    if (name === 'home') reset()
    armIdle(name)
  }

  // Nobody's details stay on screen: after a minute without a touch the kiosk goes back to the start.
  function armIdle(name) {
    clearTimeout(idleTimer)
    if (name !== 'home') idleTimer = setTimeout(() => show('home'), 60_000)
  }
  document.addEventListener('pointerdown', () => {
    const current = document.querySelector('.kiosk-screen:not([hidden])')
    if (current) armIdle(current.id.replace('screen-', ''))
  })

  function reset() {
    for (const form of document.querySelectorAll('#kiosk form')) form.reset()
    for (const id of ['v-host-results', 'out-results', 'staff-results']) $(id).replaceChildren()
    for (const id of ['visitor-error', 'out-error', 'staff-error', 'invite-error']) $(id).textContent = ''
    for (const id of ['out-search', 'staff-search']) $(id).value = ''
    $('v-host-id').value = ''
    $('pin-form').hidden = true
    stopCamera()
    stopScan()
    presented = undefined
    $('invite-find').hidden = false
    $('invite-confirm').hidden = true
    leaving = undefined
    $('out-confirm').hidden = true
    photo = ''
    $('photo-preview').hidden = true
  }

  for (const button of document.querySelectorAll('[data-go]')) {
    button.addEventListener('click', () => show(button.dataset.go))
  }

  // ---- network ----
  async function call(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: 'same-origin',
      headers: { accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify({ ...body, _csrf: csrf }) : undefined,
    })
    setOnline(true)
    let data = {}
    try {
      data = await response.json()
    } catch {}
    if (response.status === 401) location.reload()
    // The CSRF token outlives most sessions but not all: fetch a fresh one and try once more.
    if (response.status === 403 && body && !body._retried) {
      await refreshState()
      return call(method, url, { ...body, _retried: true })
    }
    return { ok: response.ok, status: response.status, data }
  }

  // What the offline queue keeps and sends again rather than takes as refused (queue.js): the
  // register is busy or away (409, 429, 5xx), not saying no to what was sent.
  const keptByQueue = (status) => status === 409 || status === 429 || status >= 500

  // A second press while the first is on its way (gloves, a double Enter) is ignored: a PIN sent
  // twice would sign someone in and straight back out, a visitor's form would sign them in twice.
  function oneAtATime(handler) {
    let busy = false
    return async (event) => {
      event.preventDefault()
      if (busy) return
      busy = true
      const button = event.target.querySelector('button[type=submit]')
      if (button) button.disabled = true
      try {
        await handler(event)
      } finally {
        busy = false
        if (button) button.disabled = false
      }
    }
  }

  async function refreshState() {
    const response = await fetch('/kiosk/api/state', { headers: { accept: 'application/json' } })
    if (response.ok) csrf = (await response.json()).csrf
  }

  function setOnline(value) {
    $('kiosk-offline').hidden = value
    updatePending()
  }
  addEventListener('online', () => {
    replay()
    refreshDoor()
  })
  addEventListener('offline', () => {
    setOnline(false)
    // At once, not when the code next changes (up to 30 s): the tablet cannot show the next one, so
    // the code comes down now with the caption saying staff sign in on their phones.
    refreshDoor()
  })

  async function updatePending() {
    if (!Q) return
    const pending = (await Q.pendingTaps(owner).catch(() => [])).length
    $('kiosk-pending').textContent = pending ? ` (${pending} waiting)` : ''
  }

  let replaying = false
  async function replay() {
    if (!Q || replaying) return
    replaying = true
    try {
      let outcome = await Q.replay(owner, csrf)
      if (outcome.stopped === 'auth') {
        await refreshState()
        outcome = await Q.replay(owner, csrf)
      }
      setOnline(outcome.stopped !== 'offline')
    } catch {
      setOnline(false)
    } finally {
      replaying = false
      showRefused()
    }
  }
  setInterval(replay, 30_000)

  // Sign-ins saved while the tablet was paired as another kiosk (or as this one, before it was
  // unpaired) are sent as this kiosk's own. Each names the kiosks it was saved under: an earlier try
  // under one of them may have arrived with its answer lost, and the register then finds it there.
  async function adoptEarlierPairings() {
    if (!Q) return
    await Q.adoptTaps(Q.kioskOwned, owner, (tap) => {
      const under = Number(tap.personId.slice('kiosk:'.length))
      const savedUnder = Array.isArray(tap.body?.savedUnder) ? tap.body.savedUnder : []
      if (!(under > 0) || savedUnder.includes(under) || savedUnder.length >= 20) return tap
      return { ...tap, body: { ...tap.body, savedUnder: [...savedUnder, under] } }
    }).catch(() => {})
  }

  // A saved sign-in the server refused: the visitor was told they are signed in and is not on the
  // fire list. The notice stays, through reloads, on every screen, until a person dismisses it.
  async function showRefused() {
    if (!Q) return
    const refused = await Q.refusedTaps(owner).catch(() => [])
    const box = $('kiosk-refused')
    // Drawn again only when what it lists changes: every replay (each 30 s, each return of the
    // network) asks, and a person between the two taps of removing one must not be sent back.
    const shown = refused.map((tap) => tap.key).join(' ')
    if (box.dataset.shown === shown && box.childElementCount > 0) return
    box.dataset.shown = shown
    box.hidden = refused.length === 0
    if (refused.length === 0) return box.replaceChildren()
    const n = refused.length
    const head = document.createElement('p')
    head.className = 'kiosk-refused-head'
    head.textContent = `${n} saved sign-in${n === 1 ? '' : 's'} could not be sent:`
    const list = document.createElement('ul')
    for (const tap of refused) {
      const li = document.createElement('li')
      li.append(`${visitorName(tap)}, ${clock(tap.at)} — ${refusal(tap)}. `)
      // Two taps, so that a visitor brushing the screen does not hide it.
      const dismiss = document.createElement('button')
      dismiss.type = 'button'
      dismiss.className = 'kiosk-button small'
      dismiss.textContent = 'Dismiss'
      const problem = document.createElement('p')
      problem.className = 'kiosk-error'
      dismiss.addEventListener('click', async () => {
        if (dismiss.dataset.sure !== '1') {
          dismiss.dataset.sure = '1'
          dismiss.textContent = 'Reception knows — remove this notice'
          return
        }
        if (await recordDismissal(tap, problem)) {
          await Q.dismissRefused(tap.key).catch(() => {})
          showRefused()
        }
      })
      li.append(dismiss, problem)
      list.append(li)
    }
    const tell = document.createElement('p')
    tell.textContent = 'Please tell reception.'
    box.replaceChildren(head, list, tell)
  }

  // The register records the removal (kiosk, time, key; never the name) before the tablet forgets
  // the sign-in, so removing it needs the network: a removal kept for later could be lost with it.
  let dismissing = false
  async function recordDismissal(tap, problem) {
    if (dismissing) return false
    dismissing = true
    problem.textContent = ''
    try {
      const { ok, data } = await call('POST', '/kiosk/api/saved-sign-ins/dismiss', {
        key: tap.key,
        at: tap.at,
        sentAt: Date.now(),
        ...(tap.body?.savedUnder ? { savedUnder: tap.body.savedUnder } : {}),
      })
      if (!ok) problem.textContent = data.error || 'That did not work. Please try again.'
      return ok
    } catch {
      setOnline(false)
      problem.textContent =
        'Removing this notice needs the network (the register records that it was removed). Try again when the kiosk is online.'
      return false
    } finally {
      dismissing = false
    }
  }

  // ---- door code ----
  async function refreshDoor() {
    clearTimeout(doorTimer)
    const img = $('door-qr')
    try {
      const { ok, data } = await call('GET', '/kiosk/api/door-code')
      if (!ok) throw new Error('door code refused')
      img.src = data.qr
      img.hidden = false
      $('door-caption').textContent = 'Staff: scan with your phone’s camera to sign in or out at the door.'
      // The next code, just after this one changes (the tablet's clock may differ from the server's).
      doorTimer = setTimeout(refreshDoor, Math.max(2_000, data.changesAt - data.now + 500))
    } catch {
      // An old code must not stay up: it would not work anyway.
      img.hidden = true
      img.removeAttribute('src')
      $('door-caption').textContent =
        'The door code needs the network. Staff: sign in on your phone as usual.'
      setOnline(false)
      doorTimer = setTimeout(refreshDoor, 10_000)
    }
  }

  // ---- searches (3+ letters, a few names, never contact details) ----
  function searcher(input, url, list, render) {
    let timer
    let seq = 0
    input.addEventListener('input', () => {
      clearTimeout(timer)
      timer = setTimeout(async () => {
        const q = input.value.trim()
        const mine = ++seq
        if (q.replace(/[^\p{L}]/gu, '').length < 3) {
          list.replaceChildren()
          return
        }
        let result
        try {
          result = await call('GET', `${url}?q=${encodeURIComponent(q)}`)
        } catch {
          setOnline(false)
          list.replaceChildren(note('Name search needs the network.'))
          return
        }
        if (mine !== seq) return
        if (!result.ok) {
          list.replaceChildren(note(result.data.error || 'That search did not work.'))
          return
        }
        const items = result.data.matches.map((m) => {
          const li = document.createElement('li')
          const button = document.createElement('button')
          button.type = 'button'
          button.textContent = m.company ? `${m.name} — ${m.company}` : m.name
          button.addEventListener('click', () => render(m, button))
          li.append(button)
          return li
        })
        if (items.length === 0) items.push(note('No match. Check the spelling.'))
        if (result.data.more) items.push(note('More people match: type more of the name.'))
        list.replaceChildren(...items)
      }, 250)
    })
  }
  function note(text) {
    const li = document.createElement('li')
    li.className = 'note'
    li.textContent = text
    return li
  }

  // ---- visitor sign-in ----
  searcher($('v-host'), '/kiosk/api/hosts', $('v-host-results'), (m, button) => {
    $('v-host-id').value = m.id
    $('v-host').value = m.name
    for (const b of $('v-host-results').querySelectorAll('button'))
      b.setAttribute('aria-pressed', String(b === button))
  })
  $('v-host').addEventListener('input', () => {
    $('v-host-id').value = ''
  })

  $('visitor-form').addEventListener(
    'submit',
    oneAtATime(async (event) => {
      event.preventDefault()
      const form = event.target
      const error = $('visitor-error')
      error.textContent = ''
      const fields = {
        name: form.name.value,
        company: form.company.value,
        phone: form.phone.value,
        email: form.email.value,
        ...(form.hostId.value ? { hostId: Number(form.hostId.value) } : {}),
        ...(form.accept?.checked ? { accept: Number(form.accept.value) } : {}),
        ...(photo ? { photo } : {}),
      }
      if (!fields.name.trim()) {
        error.textContent = 'Enter your full name.'
        return
      }
      if (form.accept && !form.accept.checked) {
        error.textContent = 'Please read the site notice and tick that you accept it.'
        return
      }
      const body = { ...fields, key: crypto.randomUUID(), at: Date.now() }
      let result
      try {
        result = await call('POST', '/kiosk/api/visitors', { ...body, sentAt: Date.now() })
      } catch {
        result = undefined
      }
      // No network, or the register could not take it just now (restarting, overloaded, a proxy's
      // 502/504: what the queue keeps and sends again). The visitor is at the door either way, and
      // "check the details" would send them in unsigned: it is saved like an offline sign-in.
      const offline = result === undefined
      if (offline || keptByQueue(result.status)) {
        // The host could not be picked from a list offline, so the typed name goes with it. The
        // saved copy keeps this sign-in's key and time: the request may have reached the server
        // and only its answer been lost (or replaced by a proxy's), and the same key makes the
        // server apply it once.
        if (!fields.hostId && !form.hostSearch.value.trim()) {
          error.textContent = 'Type the name of the person you are visiting.'
          return
        }
        // Kept, if the server refuses it, for the tablet to show until a person dismisses it.
        const saved = await Q?.addTap('visitor-sign-in', owner, undefined, {
          key: body.key,
          at: body.at,
          url: '/kiosk/api/visitors',
          keepIfRefused: true,
          body: { ...fields, hostText: fields.hostId ? undefined : form.hostSearch.value.trim() },
        }).catch(() => undefined)
        // The bar shows the saved sign-ins waiting; the next replay hides it again if the network is up.
        setOnline(false)
        const why = offline ? 'This kiosk is offline' : 'The register is not answering just now'
        // Nothing could be saved here (no storage): nobody may be told they are signed in.
        if (!saved) {
          error.textContent = `${why} and this kiosk could not save your sign-in. Please tell reception you have arrived.`
          return
        }
        done(
          `Welcome, ${fields.name.trim()}. ${why}: your sign-in is saved here with the time ${new Date(body.at).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })} and is sent as soon as ${offline ? 'the network is back' : 'it answers'}. Please tell reception you have arrived.`,
          null,
        )
        return
      }
      if (!result.ok) {
        error.textContent = result.data.error || 'That did not work. Please check the details.'
        return
      }
      done(result.data.message, result.data.badge)
    }),
  )

  function done(message, badge) {
    $('visitor-done-text').textContent = message
    const link = $('badge-link')
    link.hidden = !badge
    if (badge) link.href = badge
    show('visitor-done')
  }

  // ---- photo (optional, for the badge) ----
  let photo = ''
  let stream
  function stopCamera() {
    if (stream) for (const track of stream.getTracks()) track.stop()
    stream = undefined
    $('photo-video').hidden = true
    $('photo-snap').hidden = true
  }
  $('photo-take').addEventListener('click', async () => {
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'user', width: 320, height: 240 },
      })
    } catch {
      $('visitor-error').textContent = 'The camera is not available. You can sign in without a photo.'
      return
    }
    const video = $('photo-video')
    video.srcObject = stream
    video.hidden = false
    $('photo-snap').hidden = false
    await video.play().catch(() => {})
  })
  $('photo-snap').addEventListener('click', () => {
    const video = $('photo-video')
    const canvas = document.createElement('canvas')
    canvas.width = 240
    canvas.height = Math.round((240 * (video.videoHeight || 240)) / (video.videoWidth || 320))
    canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height)
    photo = canvas.toDataURL('image/jpeg', 0.7)
    $('photo-preview').src = photo
    $('photo-preview').hidden = false
    stopCamera()
  })

  // ---- invitation (pre-registered visitors): the QR code by camera, or the typed code ----
  let presented
  let scanStream
  let scanTimer
  let scanVideo
  function stopScan() {
    clearTimeout(scanTimer)
    if (scanStream) for (const track of scanStream.getTracks()) track.stop()
    scanStream = undefined
    if (scanVideo) scanVideo.hidden = true
  }

  // The browser's own QR reader where it has one; else the jsQR library, fetched only when needed.
  async function qrReader() {
    if ('BarcodeDetector' in self) {
      const formats = await self.BarcodeDetector.getSupportedFormats().catch(() => [])
      if (formats.includes('qr_code')) {
        const detector = new self.BarcodeDetector({ formats: ['qr_code'] })
        return async (video) => (await detector.detect(video))[0]?.rawValue
      }
    }
    if (!self.jsQR) {
      await new Promise((resolve, reject) => {
        const script = document.createElement('script')
        script.src = '/kiosk/jsqr.js'
        script.onload = resolve
        script.onerror = reject
        document.head.append(script)
      })
    }
    const canvas = document.createElement('canvas')
    const context = canvas.getContext('2d', { willReadFrequently: true })
    return async (video) => {
      if (!video.videoWidth) return undefined
      canvas.width = video.videoWidth
      canvas.height = video.videoHeight
      context.drawImage(video, 0, 0)
      const image = context.getImageData(0, 0, canvas.width, canvas.height)
      return self.jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })?.data
    }
  }

  // Films with the tablet's camera into `video` until a QR code is read, then hands on its text.
  async function scanQr(video, error, unavailable, found) {
    error.textContent = ''
    stopScan()
    let read
    try {
      read = await qrReader()
      scanStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } })
    } catch {
      stopScan()
      error.textContent = unavailable
      return
    }
    scanVideo = video
    video.srcObject = scanStream
    video.hidden = false
    await video.play().catch(() => {})
    const look = async () => {
      if (!scanStream) return
      const value = await read(video).catch(() => undefined)
      if (value) {
        stopScan()
        found(value)
      } else scanTimer = setTimeout(look, 250)
    }
    look()
  }

  $('invite-scan').addEventListener('click', () =>
    scanQr(
      $('invite-video'),
      $('invite-error'),
      'The camera is not available. Type the code from your invitation instead.',
      (link) => findInvitation({ link }),
    ),
  )

  $('invite-code-form').addEventListener('submit', (event) => {
    event.preventDefault()
    findInvitation({ code: $('invite-code').value })
  })

  // One invitation call; its answer, or undefined after saying on screen what went wrong.
  async function inviteCall(url, what, fallback) {
    $('invite-error').textContent = ''
    let result
    try {
      result = await call('POST', url, what)
    } catch {
      setOnline(false)
      $('invite-error').textContent = 'Invitations need the network. Please sign in as a visitor instead.'
      return undefined
    }
    if (!result.ok) $('invite-error').textContent = result.data.error || fallback
    return result.ok ? result : undefined
  }

  async function findInvitation(what) {
    const result = await inviteCall('/kiosk/api/invitations/find', what, 'That invitation was not found.')
    if (!result) return
    presented = what
    const v = result.data
    $('invite-who').textContent =
      `${v.name}${v.company ? `, ${v.company}` : ''}${v.host ? ` — visiting ${v.host}` : ''}`
    $('invite-find').hidden = true
    $('invite-confirm').hidden = false
  }

  $('invite-yes').addEventListener('click', async () => {
    if (!presented) return
    const result = await inviteCall('/kiosk/api/invitations/check-in', presented, 'That did not work.')
    if (!result) return
    done(result.data.message, result.data.badge)
  })

  // ---- visitor sign-out: by name, or by the QR code on the badge ----
  // A tap on a name only asks: the name next to yours, or someone else of the same name, signed
  // out by mistake would be a person inside taken off the fire list. The time tells namesakes apart.
  let leaving
  function askLeaving(m) {
    leaving = m
    $('out-who').textContent = `${m.name}${m.company ? `, ${m.company}` : ''} — signed in at ${m.since}`
    $('out-results').replaceChildren()
    $('out-confirm').hidden = false
    $('out-yes').focus()
  }
  function stopLeaving() {
    leaving = undefined
    $('out-confirm').hidden = true
  }
  searcher($('out-search'), '/kiosk/api/visitors/inside', $('out-results'), askLeaving)
  $('out-search').addEventListener('input', stopLeaving)
  $('out-no').addEventListener('click', () => {
    stopLeaving()
    $('out-search').value = ''
    $('out-search').focus()
  })
  $('out-yes').addEventListener('click', async () => {
    const m = leaving
    if (!m) return
    stopLeaving()
    await visitorSignOut(`/kiosk/api/visitors/${m.id}/sign-out`, {})
  })
  $('out-scan').addEventListener('click', () =>
    scanQr($('out-video'), $('out-error'), 'The camera is not available. Type your name instead.', (link) =>
      visitorSignOut('/kiosk/api/visitors/sign-out-by-badge', { link }),
    ),
  )
  async function visitorSignOut(url, body) {
    $('out-error').textContent = ''
    let result
    try {
      result = await call('POST', url, body)
    } catch {
      $('out-error').textContent =
        'This kiosk is offline. Use the link in your confirmation, or tell reception you are leaving.'
      return
    }
    if (!result.ok) {
      $('out-error').textContent = result.data.error || 'That did not work.'
      return
    }
    $('result-text').textContent = result.data.message
    show('result')
  }

  // ---- staff without their phone ----
  let staffId
  searcher($('staff-search'), '/kiosk/api/staff', $('staff-results'), (m) => {
    staffId = m.id
    $('pin-who').textContent = m.name
    $('pin-form').hidden = false
    $('pin').value = ''
    $('pin').focus()
  })
  $('pin-form').addEventListener(
    'submit',
    oneAtATime(async (event) => {
      event.preventDefault()
      $('staff-error').textContent = ''
      let result
      try {
        result = await call('POST', `/kiosk/api/staff/${staffId}/pin`, { pin: $('pin').value })
      } catch {
        $('staff-error').textContent = 'Signing in with a PIN needs the network. Please tell reception.'
        return
      }
      $('pin').value = ''
      if (!result.ok) {
        $('staff-error').textContent = result.data.error || 'That did not work.'
        return
      }
      $('result-text').textContent = result.data.message
      show('result')
    }),
  )

  // ---- start ----
  setOnline(navigator.onLine)
  refreshDoor()
  adoptEarlierPairings().finally(() => {
    showRefused()
    replay()
  })
})()
