import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { DateTime } from 'luxon'
import { formatDay, formatTime, isoUtc, localDay } from './site-time.js'

const zones = ['Europe/London', 'America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'UTC']

test('localDay agrees with a fresh zoned date for any sequence of instants (the memo never answers wrongly)', () => {
  // Instants cluster around DST changes and midnights, where a remembered day is most likely wrong.
  const around = [
    '2026-03-29T00:59:59.999Z',
    '2026-03-29T01:00:00Z',
    '2026-10-25T00:00:00Z',
    '2026-11-01T05:59:59.999Z',
    '2026-04-05T02:30:00+10:30',
    '2026-11-23T23:59:59.999Z',
  ].map(Date.parse)
  const instant = fc.oneof(
    fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-01-01') }),
    fc
      .tuple(fc.constantFrom(...around), fc.integer({ min: -90_000_000, max: 90_000_000 }))
      .map(([a, d]) => a + d),
  )
  fc.assert(
    fc.property(
      fc.array(fc.tuple(instant, fc.constantFrom(...zones)), { minLength: 1, maxLength: 30 }),
      (asks) => {
        for (const [ms, zone] of asks) {
          assert.equal(
            localDay(ms, zone),
            DateTime.fromMillis(ms, { zone }).toISODate(),
            `${new Date(ms).toISOString()} in ${zone}`,
          )
          assert.equal(localDay(ms + 1, zone), DateTime.fromMillis(ms + 1, { zone }).toISODate())
        }
      },
    ),
    { numRuns: 300 },
  )
})

test('localDay: the last millisecond of a local day and the first of the next', () => {
  const midnight = Date.parse('2026-11-24T00:00:00Z')
  assert.equal(localDay(midnight - 1, 'Europe/London'), '2026-11-23')
  assert.equal(localDay(midnight, 'Europe/London'), '2026-11-24')
  assert.equal(
    localDay(midnight - 1, 'Europe/London'),
    '2026-11-23',
    'asking about yesterday again after today',
  )
  // London is UTC+1 in summer: 23:30 UTC on 28 March is already the 29th there after the change.
  assert.equal(localDay(Date.parse('2026-03-29T23:30:00Z'), 'Europe/London'), '2026-03-30')
  assert.equal(localDay(Date.parse('2026-03-29T22:59:59.999Z'), 'Europe/London'), '2026-03-29')
})

test('formatTime gives the local wall-clock time as HH:mm, midnight as 00:00, in any zone', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: Date.parse('2000-01-01'), max: Date.parse('2060-01-01') }),
      fc.constantFrom(...zones, 'Asia/Kathmandu'),
      (ms, zone) => {
        assert.equal(formatTime(ms, zone), DateTime.fromMillis(ms, { zone }).toFormat('HH:mm'))
      },
    ),
    { numRuns: 2000 },
  )
  assert.equal(formatTime(Date.parse('2026-11-24T00:00:00Z'), 'Europe/London'), '00:00')
})

test('formatDay agrees with a fresh zoned format for any sequence of instants (the memo never answers wrongly)', () => {
  const midnight = Date.parse('2026-11-24T00:00:00Z')
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.oneof(
            fc.integer({ min: Date.parse('2024-01-01'), max: Date.parse('2028-01-01') }),
            fc.integer({ min: midnight - 3 * 86_400_000, max: midnight + 86_400_000 }),
          ),
          fc.constantFrom(...zones),
        ),
        { minLength: 1, maxLength: 30 },
      ),
      (asks) => {
        for (const [ms, zone] of asks) {
          assert.equal(formatDay(ms, zone), DateTime.fromMillis(ms, { zone }).toFormat('ccc d LLL'))
        }
      },
    ),
    { numRuns: 300 },
  )
  assert.equal(formatDay(midnight - 1, 'Europe/London'), 'Mon 23 Nov')
  assert.equal(formatDay(midnight, 'Europe/London'), 'Tue 24 Nov')
})

test('isoUtc is exactly Date#toISOString for any instant (the hour memo never answers wrongly)', () => {
  const instant = fc.oneof(
    fc.integer({ min: -62_198_755_200_000, max: 253_402_300_799_999 }), // years 0000 to 9999
    fc.integer({ min: Date.parse('2020-01-01'), max: Date.parse('2030-01-01') }),
    fc.integer({ min: -7_200_000, max: 7_200_000 }), // around the epoch, negative included
  )
  fc.assert(
    fc.property(fc.array(instant, { minLength: 1, maxLength: 50 }), (instants) => {
      for (const ms of instants) {
        assert.equal(isoUtc(ms), new Date(ms).toISOString())
        assert.equal(isoUtc(ms + 1), new Date(ms + 1).toISOString())
      }
    }),
    { numRuns: 1000 },
  )
  assert.equal(isoUtc(Date.parse('2026-11-24T09:05:07.008Z')), '2026-11-24T09:05:07.008Z')
  assert.throws(() => isoUtc(Number.NaN), RangeError)
})
