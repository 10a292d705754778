import { DateTime } from 'luxon'

/** Where an instant falls in the site's time zone. */
export interface LocalSlot {
  /** yyyy-mm-dd */
  day: string
  /** 0 = Monday … 6 = Sunday */
  weekday: number
  /** 0…23 */
  hour: number
  /** Offset from UTC in ms. */
  offsetMs: number
  /** "yyyy-MM-dd HH:" of the slot, for stamps. */
  hourPrefix: string
}

const quarterHour = 900_000
const dayMs = 86_400_000

/** The slot of a quarter hour starting at `ms`, where the zone's offset is known and steady. */
function arithmeticSlot(ms: number, offsetMs: number): LocalSlot {
  // A Date shifted by the offset reads the local wall clock through its UTC getters.
  const local = new Date(ms + offsetMs)
  const day = local.toISOString().slice(0, 10)
  const hour = local.getUTCHours()
  return {
    day,
    weekday: (local.getUTCDay() + 6) % 7,
    hour,
    offsetMs,
    hourPrefix: `${day} ${String(hour).padStart(2, '0')}:`,
  }
}

function slotOf(dt: DateTime): LocalSlot {
  return {
    day: dt.toISODate()!,
    weekday: dt.weekday - 1,
    hour: dt.hour,
    offsetMs: dt.offset * 60_000,
    hourPrefix: `${dt.toISODate()} ${String(dt.hour).padStart(2, '0')}:`,
  }
}

/**
 * Local day, weekday and hour of instants, memoised per quarter hour of UTC time. Where the
 * offset is a whole number of quarter hours and does not change within the quarter, every instant
 * in it shares its local day and hour. The rare quarter that does not qualify (St John's changed
 * clocks at 00:01 until 2011) is answered by luxon for each instant and never memoised. Reports
 * over hundreds of thousands of visits then ask luxon a few thousand times instead of millions.
 */
export class LocalTime {
  private readonly cache = new Map<number, { uniform: boolean; slot: LocalSlot }>()

  constructor(readonly timeZone: string) {}

  /** The local slot of an instant. */
  at(ms: number): LocalSlot {
    const key = Math.floor(ms / quarterHour)
    const cached = this.cache.get(key)
    if (cached) return cached.uniform ? cached.slot : slotOf(DateTime.fromMillis(ms, { zone: this.timeZone }))
    if (this.cache.size > 500_000) this.cache.clear()
    const offsetMs = this.steadyOffset(ms)
    if (offsetMs !== undefined) {
      const slot = arithmeticSlot(key * quarterHour, offsetMs)
      this.cache.set(key, { uniform: true, slot })
      return slot
    }
    const start = DateTime.fromMillis(key * quarterHour, { zone: this.timeZone })
    const end = DateTime.fromMillis(key * quarterHour + quarterHour - 1, { zone: this.timeZone })
    const uniform = start.offset === end.offset && start.offset % 15 === 0
    const slot = slotOf(start)
    this.cache.set(key, { uniform, slot })
    return uniform ? slot : slotOf(DateTime.fromMillis(ms, { zone: this.timeZone }))
  }

  private readonly dayOffsets = new Map<number, number | undefined>()

  /**
   * The zone's offset throughout the UTC day of `ms`, when it is the same whole number of quarter
   * hours at four points of that day (offsets change at most once or twice a year, never twice in
   * a day); undefined on the days clocks change. Asking luxon once per day instead of once per
   * quarter hour made a year's export ask it ~1,500 times instead of ~70,000.
   */
  private steadyOffset(ms: number): number | undefined {
    const day = Math.floor(ms / dayMs)
    if (this.dayOffsets.has(day)) return this.dayOffsets.get(day)
    const offsets = [0, 8, 16, 24].map(
      (h) =>
        DateTime.fromMillis(day * dayMs + Math.min(h * 3_600_000, dayMs - 1), { zone: this.timeZone }).offset,
    )
    const steady = offsets.every((o) => o === offsets[0]) && offsets[0]! % 15 === 0
    const offsetMs = steady ? offsets[0]! * 60_000 : undefined
    if (this.dayOffsets.size > 100_000) this.dayOffsets.clear()
    this.dayOffsets.set(day, offsetMs)
    return offsetMs
  }

  /** The local day (yyyy-mm-dd) of an instant. */
  day(ms: number): string {
    return this.at(ms).day
  }

  /** "yyyy-MM-dd HH:mm" in local time. */
  stamp(ms: number): string {
    const slot = this.at(ms)
    // Offsets are whole minutes, so the local minute is the UTC minute shifted.
    const minute = ((Math.floor((ms + slot.offsetMs) / 60_000) % 60) + 60) % 60
    return minute < 10 ? `${slot.hourPrefix}0${minute}` : `${slot.hourPrefix}${minute}`
  }

  /**
   * Each local (weekday, hour) a span overlaps, once per local hour lived through (the repeated
   * hour of an autumn DST change twice; the skipped spring hour never). A zero-length span counts
   * its starting hour.
   */
  *hours(from: number, to: number): Generator<LocalSlot> {
    // Walk quarter hours; a new local hour begins where the hour, the day or the offset changes.
    let q = Math.floor(from / quarterHour) * quarterHour
    let previous = this.at(q)
    yield previous
    for (q += quarterHour; q < to; q += quarterHour) {
      const slot = this.at(q)
      if (slot.hour !== previous.hour || slot.day !== previous.day || slot.offsetMs !== previous.offsetMs)
        yield slot
      previous = slot
    }
  }
}
