// Reception pages: live updates over server-sent events, with a periodic refresh when the stream
// is down. The page is complete without this script; it only keeps it fresh. Nothing on the page
// is ever removed unless a fresh copy arrived, so a dropped network leaves the last list readable.
;(() => {
  const region = document.querySelector('[data-live-region]')
  const topics = (region?.getAttribute('data-live') ?? '').split(/\s+/).filter(Boolean)
  const pollMs = 30000
  let timer = null
  let poller = null
  // When the list on screen was rendered, as the server wrote it (site time zone).
  let lastFresh = region?.getAttribute('data-updated') ?? ''
  const status = (text) => {
    for (const el of document.querySelectorAll('[data-live-status]')) el.textContent = text
  }

  async function refresh() {
    if (!region) return
    try {
      const response = await fetch(location.href, {
        headers: { accept: 'text/html' },
        credentials: 'same-origin',
        cache: 'no-store',
      })
      if (!response.ok || response.redirected) return
      const doc = new DOMParser().parseFromString(await response.text(), 'text/html')
      const fresh = doc.querySelector('[data-live-region]')
      if (!fresh) return
      const focusedRow = document.activeElement?.closest('li[id]')?.id
      const focusedValue = document.activeElement?.getAttribute('value')
      region.innerHTML = fresh.innerHTML
      lastFresh = fresh.getAttribute('data-updated') ?? lastFresh
      bindForms()
      if (focusedRow) {
        const row = document.getElementById(focusedRow)
        const again = row?.querySelector(`button[value="${focusedValue}"]`) ?? row?.querySelector('button')
        again?.focus()
      }
      status(source?.readyState === EventSource.OPEN ? `Live · updated ${lastFresh}` : `Updated ${lastFresh}`)
    } catch {
      status(`Offline · showing the list as of ${lastFresh}`)
    }
  }

  function soon() {
    clearTimeout(timer)
    timer = setTimeout(refresh, 400)
  }

  function startPolling() {
    if (!poller) poller = setInterval(refresh, pollMs)
  }
  function stopPolling() {
    clearInterval(poller)
    poller = null
  }

  let source = null
  if (region && 'EventSource' in window) {
    source = new EventSource('/reception/events')
    source.addEventListener('open', () => {
      stopPolling()
      status(`Live · updated ${lastFresh}`)
      // Anything may have changed while we were disconnected.
      soon()
    })
    source.addEventListener('error', () => {
      status(`Reconnecting… showing the list as of ${lastFresh}`)
      startPolling()
    })
    const on = (name, wanted) =>
      source.addEventListener(name, (event) => {
        if (wanted(JSON.parse(event.data || '{}'))) soon()
      })
    on('presence', () => topics.includes('presence'))
    on('roll-call', (data) => topics.includes('roll-call') || topics.includes(`roll-call:${data.id}`))
    on('broadcast', (data) => topics.includes(`broadcast:${data.id}`))
  } else if (region) {
    startPolling()
  }

  // Marks are sent without leaving the page; if the network is down the marshal is told it was not saved.
  function bindForms() {
    for (const form of document.querySelectorAll('form[data-mark-form]')) {
      if (form.dataset.bound) continue
      form.dataset.bound = '1'
      form.addEventListener('submit', async (event) => {
        event.preventDefault()
        const body = new URLSearchParams(new FormData(form))
        if (event.submitter?.name) body.set(event.submitter.name, event.submitter.value)
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
      })
    }
  }
  bindForms()

  for (const button of document.querySelectorAll('[data-print]')) {
    button.addEventListener('click', () => window.print())
  }
})()
