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

/**
 * Local day, weekday and hour of instants, memoised per quarter hour of UTC time. Every time zone
 * offset (and every DST change since 2000) is a multiple of 15 minutes, so all instants in one
 * UTC quarter hour share their local day and hour. Reports over hundreds of thousands of visits
 * then ask luxon a few thousand times instead of millions.
 */
export class LocalTime {
  private readonly cache = new Map<number, LocalSlot>()

  constructor(readonly timeZone: string) {}

  /** The local slot of an instant. */
  at(ms: number): LocalSlot {
    const key = Math.floor(ms / quarterHour)
    let slot = this.cache.get(key)
    if (!slot) {
      if (this.cache.size > 500_000) this.cache.clear()
      const dt = DateTime.fromMillis(key * quarterHour, { zone: this.timeZone })
      slot = {
        day: dt.toISODate()!,
        weekday: dt.weekday - 1,
        hour: dt.hour,
        offsetMs: dt.offset * 60_000,
        hourPrefix: `${dt.toISODate()} ${String(dt.hour).padStart(2, '0')}:`,
      }
      this.cache.set(key, slot)
    }
    return slot
  }

  /** The local day (yyyy-mm-dd) of an instant. */
  day(ms: number): string {
    return this.at(ms).day
  }

  /** "yyyy-MM-dd HH:mm" in local time. */
  stamp(ms: number): string {
    const slot = this.at(ms)
    // Offsets are whole quarter hours, so the local minute is the UTC minute shifted.
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
