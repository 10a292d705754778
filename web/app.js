/* Building Register: progressive enhancement for the server-rendered pages. Without this file
   every page still works; with it the app installs, works offline and can take notifications. */
;(() => {
  const Q = self.RegisterQueue
  const $ = (selector) => document.querySelector(selector)
  /** How soon the home page sends its saved taps again after a send that did not get through. */
  const RETRY_MS = 10_000

  if ('serviceWorker' in navigator) {
    // Registered once the page has loaded and the main thread is idle: installing the worker (its
    // script, then the precache of the app shell) would otherwise compete with the page's first load.
    const register = () => navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {})
    const whenIdle = () =>
      self.requestIdleCallback ? requestIdleCallback(register, { timeout: 2000 }) : register()
    if (document.readyState === 'complete') whenIdle()
    else window.addEventListener('load', whenIdle, { once: true })
    navigator.serviceWorker.addEventListener('message', (event) => {
      if (event.data && event.data.type === 'taps-synced' && $('#status')) location.replace('/')
    })
  }

  // Pages may come back from the back/forward cache (they are `no-cache`, not `no-store`). The
  // home page's state may have changed since, and after a logout no signed-in page may show
  // again: both are fetched afresh, where the server decides.
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted) return
    const signedOutAt = Number(localStorage.getItem('register:signed-out-at') || 0)
    if ($('#status') || signedOutAt > performance.timeOrigin) location.reload()
  })

  // The login page means nobody is signed in here: forget the last person's state and taps.
  if ($('form[action="/login/code"]')) {
    try {
      localStorage.setItem('register:signed-out-at', String(Date.now()))
    } catch {}
  }
  if ($('form[action="/login/code"]') && Q) {
    Q.clearAll().catch(() => {})
    if (self.caches) caches.delete('pages').catch(() => {})
    // Nobody is signed in here any more, so this browser should not get anyone's reminders.
    if ('serviceWorker' in navigator && 'PushManager' in self) {
      navigator.serviceWorker.ready
        .then((reg) => reg.pushManager.getSubscription())
        .then((sub) => sub?.unsubscribe())
        .catch(() => {})
    }
  }

  const keyboard = $('#contact-keyboard')
  if (keyboard) keyboardSwitch(keyboard, $('#contact'))

  const status = $('#status')
  if (status && Q) homePage(status)
  const push = $('#push')
  if (push) pushSettings(push)
  const install = $('#install')
  if (install) installPrompt(install)
  const offlineNote = $('#offline-note')
  if (offlineNote) offlineCopy(offlineNote)

  // The contact field takes an email or a number: a switch between the letter keyboard and the number pad.
  function keyboardSwitch(button, input) {
    button.parentElement.hidden = false
    const labels = {
      tel: 'Type an email: use the letter keyboard',
      text: 'Type a number: use the number pad',
    }
    button.addEventListener('click', () => {
      const next = input.inputMode === 'tel' ? 'text' : 'tel'
      input.inputMode = next
      button.textContent = labels[next]
      // The keyboard changes when the field is focused again.
      input.blur()
      input.focus()
    })
  }

  function formatTime(ms) {
    return new Date(ms).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' })
  }

  function show(state, since, note) {
    const isIn = state === 'in'
    document.body.classList.toggle('state-in', isIn)
    document.body.classList.toggle('state-out', !isIn)
    const line = document.createElement('h1')
    line.className = 'state'
    const dot = document.createElement('span')
    dot.className = 'dot'
    dot.setAttribute('aria-hidden', 'true')
    dot.textContent = isIn ? '●' : '○'
    const strong = document.createElement('strong')
    strong.textContent = isIn ? 'signed in' : 'signed out'
    line.append(dot, ' You are ', strong)
    const parts = [line]
    if (isIn && since) {
      const sinceLine = document.createElement('p')
      sinceLine.className = 'since'
      sinceLine.textContent = `since ${formatTime(since)}`
      parts.push(sinceLine)
    }
    status.replaceChildren(...parts)
    const button = $('form.tap button')
    const form = $('form.tap')
    if (form && button) {
      form.action = isIn ? '/sign-out' : '/sign-in'
      button.textContent = isIn ? 'Sign out' : 'Sign in'
      button.className = `big ${isIn ? 'out' : 'in'}`
    }
    const syncNote = $('#sync-note')
    if (syncNote) {
      syncNote.textContent = note || ''
      syncNote.hidden = !note
    }
  }

  async function homePage(status) {
    const form = $('form.tap')
    const csrfInput = form?.querySelector('input[name="_csrf"]')
    const rendered = Number(status.dataset.renderedAt || 0)
    let me = await Q.loadState().catch(() => undefined)
    if (rendered && (!me || rendered >= me.at)) {
      // A page from the server: it is the latest truth; remember it for offline use.
      me = {
        personId: Number(status.dataset.person),
        state: status.dataset.state,
        since: Number(status.dataset.since) || null,
        at: rendered,
        csrf: csrfInput ? csrfInput.value : me?.csrf,
        siteName: $('.brand') ? $('.brand').textContent : '',
      }
      await Q.saveState(me).catch(() => {})
    }
    if (!me) return
    if (!rendered && me.siteName && $('.brand')) $('.brand').textContent = me.siteName
    const csrf = () => (csrfInput && rendered >= me.at ? csrfInput.value : me.csrf)

    async function refresh(stopped) {
      const pending = await Q.pendingTaps(me.personId)
      const last = pending[pending.length - 1]
      if (last) {
        show(
          last.action === 'sign-in' ? 'in' : 'out',
          last.at,
          stopped === 'auth'
            ? `Saved on this device at ${formatTime(last.at)} but not sent: this device is no longer signed in. Sign in again, then tap again, or tell reception.`
            : `Saved on this device at ${formatTime(last.at)} — will sync when you are back online.`,
        )
      } else if (!rendered || rendered < me.at || !navigator.onLine) {
        show(me.state, me.since, `You are offline. This is your last known state (${formatTime(me.at)}).`)
      }
      return pending.length
    }

    // Signal at the door comes and goes, often without an `online` event, and a browser without
    // Background Sync (Safari, Firefox) has nobody else to send the taps: the page keeps trying.
    let retry
    async function sync() {
      clearTimeout(retry)
      if ((await Q.pendingTaps(me.personId)).length === 0) return
      const { results, stopped } = await Q.replay(me.personId, csrf())
      if (results.length && !stopped) return location.replace('/')
      await refresh(stopped)
      if (stopped && stopped !== 'auth') retry = setTimeout(() => sync().catch(() => {}), RETRY_MS)
    }

    if (form) {
      let busy = false
      form.addEventListener('submit', async (event) => {
        event.preventDefault()
        // A double tap must not sign in and straight back out.
        if (busy) return
        busy = true
        const button = form.querySelector('button')
        button.disabled = true
        setTimeout(() => {
          busy = false
          button.disabled = false
        }, 1500)
        const action = form.getAttribute('action') === '/sign-out' ? 'sign-out' : 'sign-in'
        try {
          const day = form.querySelector('input[name="day"]')
          await Q.addTap(action, me.personId, rendered >= me.at && day ? day.value : undefined)
        } catch {
          // No storage on this device (e.g. a private window): post the form the classic way.
          form.submit()
          return
        }
        await refresh()
        const reg = 'serviceWorker' in navigator ? await navigator.serviceWorker.getRegistration() : null
        if (reg?.sync) reg.sync.register('taps').catch(() => {})
        if (navigator.onLine) await sync()
      })
    }
    window.addEventListener('online', () => {
      sync().catch(() => {})
    })
    // A phone app brought back to the front (timers do not run while it is hidden).
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) sync().catch(() => {})
    })
    await refresh()
    if (navigator.onLine) await sync()
  }

  // "Your visits" and the profile: the service worker shows the last copy when the network is gone;
  // the page says so, with the time of that copy, and reloads when the network is back.
  function offlineCopy(note) {
    const rendered = Number(note.dataset.renderedAt || 0)
    const say = () => {
      const when = new Date(rendered).toLocaleString('en-GB', {
        weekday: 'short',
        day: 'numeric',
        month: 'short',
        hour: '2-digit',
        minute: '2-digit',
      })
      note.textContent = `You are offline. This is a copy from ${when}; it may be out of date.`
      note.hidden = false
    }
    window.addEventListener('offline', say)
    window.addEventListener('online', () => {
      if (!note.hidden) location.reload()
    })
    // The service worker marks a copy it answered from its cache because the network failed.
    if (!navigator.onLine || 'fromCache' in note.dataset) say()
  }

  function installPrompt(section) {
    const standalone = matchMedia('(display-mode: standalone)').matches || navigator.standalone === true
    if (standalone) return
    const ios = /iphone|ipad|ipod/i.test(navigator.userAgent) && !/crios|fxios/i.test(navigator.userAgent)
    if (ios) {
      $('#install-ios').hidden = false
      section.hidden = false
      return
    }
    window.addEventListener('beforeinstallprompt', (event) => {
      event.preventDefault()
      const button = $('#install-button')
      button.hidden = false
      section.hidden = false
      button.addEventListener(
        'click',
        async () => {
          event.prompt()
          await event.userChoice
          section.hidden = true
        },
        { once: true },
      )
    })
    window.addEventListener('appinstalled', () => {
      section.hidden = true
    })
  }

  function urlBase64ToBytes(base64) {
    const padded = (base64 + '='.repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/')
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
  }

  async function pushSettings(section) {
    const message = $('#push-message')
    const button = $('#push-toggle')
    const csrf = section.dataset.csrf
    if (!('serviceWorker' in navigator) || !('PushManager' in self) || !('Notification' in self)) {
      message.textContent = 'This browser cannot show notifications. Reminders will come by text or email.'
      return
    }
    const post = (url, body) =>
      fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ ...body, _csrf: csrf }),
      })
    let enabled = section.dataset.enabled === 'true'
    const render = () => {
      button.textContent = enabled ? 'Turn off notifications' : 'Turn on notifications'
      button.hidden = false
    }
    render()
    button.addEventListener('click', async () => {
      button.disabled = true
      try {
        const reg = await navigator.serviceWorker.ready
        const existing = await reg.pushManager.getSubscription()
        if (enabled) {
          if (existing) {
            await post('/push/subscriptions/remove', { endpoint: existing.endpoint })
            await existing.unsubscribe()
          }
          enabled = false
          message.textContent = 'Notifications are off on this device.'
        } else {
          if ((await Notification.requestPermission()) !== 'granted') {
            message.textContent =
              'Notifications are blocked for this site. Allow them in the browser settings.'
            return
          }
          const sub =
            existing ||
            (await reg.pushManager.subscribe({
              userVisibleOnly: true,
              applicationServerKey: urlBase64ToBytes(section.dataset.key),
            }))
          const response = await post('/push/subscriptions', sub.toJSON())
          if (!response.ok) throw new Error(String(response.status))
          enabled = true
          message.textContent = 'Reminders will come to this device as notifications.'
        }
      } catch {
        message.textContent = 'That did not work. Check your connection and try again.'
      } finally {
        button.disabled = false
        render()
      }
    })
  }
})()
