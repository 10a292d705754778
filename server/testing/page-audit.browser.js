// Runs inside the page (evaluated by server/testing/page-audit.ts): finds what a person would
// notice at once — text too faint to read, controls with no name, a page wider than the screen,
// radios and checkboxes drawn as large boxes. Returns a list of problems as short lines.
;(() => {
  const problems = []
  const width = document.documentElement.clientWidth

  const describe = (el) => {
    let text = el.tagName.toLowerCase()
    if (el.id) text += `#${el.id}`
    else if (el.classList.length) text += `.${[...el.classList].slice(0, 2).join('.')}`
    const words = (el.textContent || el.value || el.getAttribute('aria-label') || '')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, 30)
    return words ? `${text} "${words}"` : text
  }

  const visible = (el) => {
    const style = getComputedStyle(el)
    if (style.visibility === 'hidden' || style.display === 'none') return false
    const box = el.getBoundingClientRect()
    // Visually hidden text (1px clipped) is for screen readers only; the skip link waits off-screen.
    return box.width > 2 && box.height > 2 && box.right > 0 && style.clip !== 'rect(0px, 0px, 0px, 0px)'
  }

  // Colours: computed styles come as rgb()/rgba() or color(srgb …) (from color-mix).
  const parse = (value) => {
    let m = /rgba?\(([\d.]+),? ([\d.]+),? ([\d.]+)(?:,? \/? ?([\d.]+))?\)/.exec(value)
    if (m) return [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])]
    m = /color\(srgb ([\d.]+) ([\d.]+) ([\d.]+)(?: \/ ([\d.]+))?\)/.exec(value)
    if (m) return [m[1] * 255, m[2] * 255, m[3] * 255, m[4] === undefined ? 1 : Number(m[4])]
    return null
  }
  const over = (top, bottom) => {
    const a = top[3]
    return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat(1)
  }
  const luminance = (c) => {
    const [r, g, b] = c.slice(0, 3).map((v) => {
      const s = v / 255
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4
    })
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
  }
  const ratio = (a, b) => {
    const [l1, l2] = [luminance(a), luminance(b)].sort((x, y) => y - x)
    return (l1 + 0.05) / (l2 + 0.05)
  }
  const dark = matchMedia('(prefers-color-scheme: dark)').matches
  const canvas = dark ? [18, 18, 18, 1] : [255, 255, 255, 1]

  /** The colour behind an element: its own and its ancestors' backgrounds, blended; null if an image. */
  const backgroundOf = (el) => {
    const layers = []
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const style = getComputedStyle(node)
      if (style.backgroundImage !== 'none' && !/^url\(.*\.svg/.test(style.backgroundImage)) return null
      const colour = parse(style.backgroundColor)
      if (colour && colour[3] > 0) {
        layers.push(colour)
        if (colour[3] >= 1) break
      }
    }
    let result = canvas
    for (const layer of layers.reverse()) result = over(layer, result)
    return result
  }
  const opacityOf = (el) => {
    let opacity = 1
    for (let node = el; node && node.nodeType === 1; node = node.parentElement)
      opacity *= Number(getComputedStyle(node).opacity)
    return opacity
  }

  const ownText = (el) =>
    [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== '') ||
    ((el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') &&
      !['radio', 'checkbox', 'hidden', 'range', 'color'].includes(el.type))

  const seen = new Set()
  for (const el of document.body.querySelectorAll('*')) {
    if (['SCRIPT', 'STYLE', 'NOSCRIPT', 'TITLE', 'svg'].includes(el.tagName) || el.closest('svg')) continue
    if (!ownText(el) || !visible(el) || el.disabled) continue
    const style = getComputedStyle(el)
    const bg = backgroundOf(el)
    if (!bg) continue
    const fgRaw = parse(style.color)
    if (!fgRaw) continue
    const alpha = fgRaw[3] * opacityOf(el)
    const fg = over([fgRaw[0], fgRaw[1], fgRaw[2], alpha], bg)
    const size = Number.parseFloat(style.fontSize)
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700)
    const needed = large ? 3 : 4.5
    const r = ratio(fg, bg)
    if (r < needed) {
      const line = `low contrast ${r.toFixed(2)}:1 (needs ${needed}): ${describe(el)}`
      if (!seen.has(line)) problems.push(line)
      seen.add(line)
    }
  }

  // A filled button stands out from what is around it, by its colour or its border (WCAG 1.4.11).
  for (const el of document.querySelectorAll('button, .button, input[type=submit]')) {
    if (!visible(el)) continue
    const style = getComputedStyle(el)
    const own = parse(style.backgroundColor)
    if (!own || own[3] === 0) continue
    const around = backgroundOf(el.parentElement)
    if (!around || ratio(over(own, around), around) >= 3) continue
    const border = parse(style.borderTopColor)
    const edge =
      Number.parseFloat(style.borderTopWidth) > 0 && border && ratio(over(border, around), around) >= 3
    if (!edge) problems.push(`button has no visible edge: ${describe(el)}`)
  }

  // Every control has a name a screen reader can say, and a visible one where it is a button or link.
  const nameOf = (el) => {
    const label = el.getAttribute('aria-label')
    if (label?.trim()) return label
    const by = el.getAttribute('aria-labelledby')
    if (by)
      return by
        .split(/\s+/)
        .map((id) => document.getElementById(id)?.textContent ?? '')
        .join(' ')
    if (el.labels?.length) return [...el.labels].map((l) => l.textContent).join(' ')
    if (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type)) return el.value
    return (el.textContent || '').trim() || el.querySelector('img[alt]')?.alt || el.title
  }
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue
    if (!nameOf(el)?.trim()) problems.push(`no accessible name: ${describe(el)}`)
  }

  // A radio or checkbox is a small box beside its label, not a field-wide block (issue 20).
  for (const el of document.querySelectorAll('input[type=radio], input[type=checkbox]')) {
    if (!visible(el)) continue
    const box = el.getBoundingClientRect()
    if (box.width > 40 || box.height > 40)
      problems.push(`${el.type} drawn ${Math.round(box.width)}×${Math.round(box.height)} px: ${describe(el)}`)
    const label = el.labels?.[0]
    if (label && visible(label)) {
      const l = label.getBoundingClientRect()
      const apart = Math.max(l.left - box.right, box.left - l.right, l.top - box.bottom, box.top - l.bottom)
      if (apart > 24) problems.push(`${el.type} ${Math.round(apart)} px from its label: ${describe(el)}`)
    }
  }

  // Horizontal overflow: the page scrolls sideways, or something sticks out of a box that clips it.
  if (document.documentElement.scrollWidth > width + 1)
    problems.push(`page is ${document.documentElement.scrollWidth} px wide in a ${width} px window`)
  const scrolls = (el) => {
    for (let node = el.parentElement; node && node !== document.body; node = node.parentElement) {
      const overflow = getComputedStyle(node).overflowX
      if (overflow === 'auto' || overflow === 'scroll') return true
    }
    return false
  }
  const sticksOut = (el) => visible(el) && el.getBoundingClientRect().right > width + 1 && !scrolls(el)
  for (const el of document.body.querySelectorAll('*')) {
    // The outermost element that sticks out names the problem; what is inside it goes with it.
    if (!sticksOut(el) || (el.parentElement !== document.body && sticksOut(el.parentElement))) continue
    problems.push(`sticks out to ${Math.round(el.getBoundingClientRect().right)} px: ${describe(el)}`)
  }
  return problems
})()
