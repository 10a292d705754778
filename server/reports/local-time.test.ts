import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DateTime } from 'luxon'
import { LocalTime } from './local-time.js'

const zones = [
  'Europe/London',
  'America/New_York',
  'America/St_Johns',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'UTC',
]

test('memoised local times agree with luxon for any instant in any zone', () => {
  const locals = new Map(zones.map((z) => [z, new LocalTime(z)]))
  fc.assert(
    fc.property(
      fc.constantFrom(...zones),
      fc.integer({ min: Date.parse('2000-01-01T00:00:00Z'), max: Date.parse('2100-01-01T00:00:00Z') }),
      (zone, ms) => {
        const local = locals.get(zone)!
        const dt = DateTime.fromMillis(ms, { zone })
        const slot = local.at(ms)
        assert.equal(slot.day, dt.toISODate())
        assert.equal(slot.hour, dt.hour)
        assert.equal(slot.weekday, dt.weekday - 1)
        assert.equal(local.stamp(ms), dt.toFormat('yyyy-MM-dd HH:mm'))
      },
    ),
    { numRuns: 3000 },
  )
})

test("a clock change at an odd minute (St John's, 00:01 local until 2011) is still exact", () => {
  const local = new LocalTime('America/St_Johns')
  // 2010-11-07 00:01 NDT (-2:30) became 23:01 NST (-3:30) the day before: 02:31 UTC.
  for (const iso of [
    '2010-11-07T02:30:30Z',
    '2010-11-07T02:31:00Z',
    '2010-11-07T02:35:00Z',
    '2010-11-07T02:44:59Z',
  ]) {
    const ms = Date.parse(iso)
    const dt = DateTime.fromMillis(ms, { zone: 'America/St_Johns' })
    assert.equal(local.stamp(ms), dt.toFormat('yyyy-MM-dd HH:mm'), iso)
    assert.equal(local.at(ms).hour, dt.hour, iso)
  }
})

test('hours lived through a span: DST days in London, a half-hour zone', () => {
  const london = new LocalTime('Europe/London')
  const hours = (from: string, to: string, local = london) =>
    [...local.hours(Date.parse(from), Date.parse(to))].map((s) => `${s.day} ${s.hour}`)
  assert.deepEqual(hours('2026-11-23T09:05:00Z', '2026-11-23T12:00:00Z'), [
    '2026-11-23 9',
    '2026-11-23 10',
    '2026-11-23 11',
  ])
  assert.deepEqual(hours('2026-11-23T09:05:00Z', '2026-11-23T09:05:00Z'), ['2026-11-23 9'])
  // Spring: 00:30 GMT → 03:30 BST; 01:00–02:00 does not exist.
  assert.deepEqual(hours('2026-03-29T00:30:00Z', '2026-03-29T02:30:00Z'), [
    '2026-03-29 0',
    '2026-03-29 2',
    '2026-03-29 3',
  ])
  // Autumn: 00:30 BST → 01:30 GMT lives through 01:00–02:00 twice.
  assert.deepEqual(hours('2026-10-24T23:30:00Z', '2026-10-25T01:30:00Z'), [
    '2026-10-25 0',
    '2026-10-25 1',
    '2026-10-25 1',
  ])
  // Across midnight.
  assert.deepEqual(hours('2026-11-23T22:30:00Z', '2026-11-24T00:10:00Z'), [
    '2026-11-23 22',
    '2026-11-23 23',
    '2026-11-24 0',
  ])
  const kolkata = new LocalTime('Asia/Kolkata')
  assert.deepEqual(hours('2026-11-23T03:00:00Z', '2026-11-23T04:00:00Z', kolkata), [
    '2026-11-23 8',
    '2026-11-23 9',
  ])
})

test('local times agree with luxon on and around the days clocks change, asked in any order', () => {
  // Every offset change in these zones between 2024 and 2027, found by walking luxon hour by hour.
  const changes: { zone: string; at: number }[] = []
  for (const zone of zones) {
    let previous = DateTime.fromMillis(Date.parse('2024-01-01T00:00:00Z'), { zone }).offset
    for (let t = Date.parse('2024-01-01T00:00:00Z'); t < Date.parse('2027-01-01T00:00:00Z'); t += 3_600_000) {
      const offset = DateTime.fromMillis(t, { zone }).offset
      if (offset !== previous) changes.push({ zone, at: t })
      previous = offset
    }
  }
  assert.ok(changes.length > 20, 'the zones do change their clocks')
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.constantFrom(...changes), fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 })),
        {
          minLength: 1,
          maxLength: 50,
        },
      ),
      (asks) => {
        const locals = new Map<string, LocalTime>()
        for (const [{ zone, at }, delta] of asks) {
          const local = locals.get(zone) ?? new LocalTime(zone)
          locals.set(zone, local)
          const ms = at + delta
          const dt = DateTime.fromMillis(ms, { zone })
          assert.equal(
            local.stamp(ms),
            dt.toFormat('yyyy-MM-dd HH:mm'),
            `${zone} ${new Date(ms).toISOString()}`,
          )
          assert.equal(local.at(ms).weekday, dt.weekday - 1)
          assert.equal(local.at(ms).offsetMs, dt.offset * 60_000)
        }
      },
    ),
    { numRuns: 500 },
  )
})
