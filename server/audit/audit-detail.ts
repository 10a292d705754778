/** One line of an audit entry's detail, as a person reads it: "Left at" — "23 Nov 2026, 17:30". */
export type DetailLine = [label: string, value: string]

const labels: Record<string, string> = {
  by: 'Done by',
  ip: 'Address',
  ua: 'Browser',
}

/** "leftAt" → "Left at", "visit_id" → "Visit id". */
function label(key: string): string {
  if (labels[key]) return labels[key]
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_-]+/g, ' ')
    .toLowerCase()
  return words.charAt(0).toUpperCase() + words.slice(1)
}

/** An instant stored as epoch ms (a key ending in "at" with a plausible value). */
const isInstant = (key: string, value: unknown): value is number =>
  typeof value === 'number' &&
  /(^at|At|_at)$/.test(key) &&
  value > 946_684_800_000 &&
  value < 4_102_444_800_000

function text(key: string, value: unknown, formatInstant: (ms: number) => string): string {
  if (value === null || value === undefined || value === '') return '—'
  if (isInstant(key, value)) return formatInstant(value)
  if (key === 'by' && typeof value === 'number') return `person #${value}`
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  if (Array.isArray(value)) return value.map((v) => text('', v, formatInstant)).join(', ')
  if (typeof value === 'object')
    return Object.entries(value)
      .map(([k, v]) => `${label(k).toLowerCase()}: ${text(k, v, formatInstant)}`)
      .join('; ')
  return String(value)
}

/**
 * An audit entry's detail (stored as JSON) as labelled lines a person can read, instants in the
 * site's time; text that is not a JSON object is shown as one line, as it is.
 */
export function readableDetail(detail: string | null, formatInstant: (ms: number) => string): DetailLine[] {
  if (!detail) return []
  let parsed: unknown
  try {
    parsed = JSON.parse(detail)
  } catch {
    return [['Detail', detail]]
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return [['Detail', text('', parsed, formatInstant)]]
  return Object.entries(parsed).map(([key, value]) => [label(key), text(key, value, formatInstant)])
}
