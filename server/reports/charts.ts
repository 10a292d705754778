import type { DayStats } from './reports.service.js'

const escapeXml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)

/** Weekday names, Monday first. */
export const weekdayNames = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']

/**
 * A bar chart of staff in the building per day (each counted once a day) as an accessible SVG: role="img" with a <title> and <desc>
 * (`titleId` names it for aria-labelledby); the page shows the same numbers as a table.
 */
export function dailyVisitorsSvg(days: DayStats[], titleId: string): string {
  const width = 720
  const height = 220
  const pad = { top: 16, right: 12, bottom: 28, left: 36 }
  const max = Math.max(1, ...days.map((d) => d.visitors))
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const step = plotW / Math.max(1, days.length)
  const barW = Math.max(1, step * 0.8)
  const busiest = days.reduce<DayStats | undefined>(
    (a, d) => (!a || d.visitors > a.visitors ? d : a),
    undefined,
  )
  const desc = busiest
    ? `${days.length} days from ${days[0]!.day} to ${days[days.length - 1]!.day}; at most ${max} staff in, on ${busiest.day}.`
    : 'No days in this range.'
  // One path for all the bars (a month is 30 elements fewer); the table under the chart has the numbers.
  const bars = `<path class="chart-col" d="${days
    .map((d, i) => {
      const h = (d.visitors / max) * plotH
      const x = pad.left + i * step + (step - barW) / 2
      const y = pad.top + plotH - h
      return `M${x.toFixed(1)} ${y.toFixed(1)}h${barW.toFixed(1)}v${h.toFixed(1)}h${(-barW).toFixed(1)}z`
    })
    .join('')}"/>`
  const ticks = [0, Math.round(max / 2), max]
    .map((t) => {
      const y = pad.top + plotH - (t / max) * plotH
      return `<text x="${pad.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" class="tick">${t}</text><line x1="${pad.left}" x2="${width - pad.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`
    })
    .join('')
  const labelEvery = Math.max(1, Math.ceil(days.length / 8))
  const labels = days
    .map((d, i) =>
      i % labelEvery === 0
        ? `<text x="${(pad.left + i * step + step / 2).toFixed(1)}" y="${height - 8}" text-anchor="middle" class="tick">${escapeXml(d.day.slice(5))}</text>`
        : '',
    )
    .join('')
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${titleId} ${titleId}-desc" xmlns="http://www.w3.org/2000/svg"><title id="${titleId}">Staff in the building per day</title><desc id="${titleId}-desc">${escapeXml(desc)}</desc>${ticks}${bars}${labels}</svg>`
}

/**
 * A weekday × hour heatmap (average people present) as an accessible SVG; darker is busier.
 */
export function heatmapSvg(heatmap: number[][], titleId: string): string {
  const cell = 26
  const left = 90
  const top = 22
  const width = left + 24 * cell + 4
  const height = top + 7 * cell + 4
  const max = Math.max(0, ...heatmap.flat())
  let busiest = { w: 0, h: 0, v: -1 }
  heatmap.forEach((hours, w) => {
    hours.forEach((v, h) => {
      if (v > busiest.v) busiest = { w, h, v }
    })
  })
  const desc =
    max > 0
      ? `Busiest: ${weekdayNames[busiest.w]} ${String(busiest.h).padStart(2, '0')}:00, with ${busiest.v} people on average.`
      : 'Nobody was in during this range.'
  const hours = Array.from({ length: 24 }, (_, h) =>
    h % 3 === 0
      ? `<text x="${left + h * cell + cell / 2}" y="${top - 6}" text-anchor="middle" class="tick">${String(h).padStart(2, '0')}</text>`
      : '',
  ).join('')
  const names = heatmap
    .map(
      (_, w) =>
        `<text x="${left - 8}" y="${top + w * cell + cell / 2 + 4}" text-anchor="end" class="tick">${weekdayNames[w]}</text>`,
    )
    .join('')
  // Cells of the same shade share one path: ten shades, not 168 rectangles with a title each (the
  // page's DOM stays small; the table under the chart has every number).
  const shades = new Map<string, string[]>()
  heatmap.forEach((hoursOfDay, w) => {
    hoursOfDay.forEach((v, h) => {
      const opacity = max > 0 && v > 0 ? 0.1 + Math.ceil((v / max) * 9) / 10 : 0
      if (opacity === 0) return
      const key = opacity.toFixed(1)
      if (!shades.has(key)) shades.set(key, [])
      shades.get(key)!.push(`M${left + h * cell} ${top + w * cell}h${cell - 2}v${cell - 2}h${2 - cell}z`)
    })
  })
  const rows =
    names +
    [...shades]
      .map(([opacity, cells]) => `<path class="heat" fill-opacity="${opacity}" d="${cells.join('')}"/>`)
      .join('')
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${titleId} ${titleId}-desc" xmlns="http://www.w3.org/2000/svg"><title id="${titleId}">Busiest days and hours</title><desc id="${titleId}-desc">${escapeXml(desc)}</desc>${hours}${rows}</svg>`
}
