import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { NAME_MAX_LENGTH, parseName } from './person.js'

const accepted = (first: string, last = 'Smith') => {
  const result = parseName(first, last)
  return result.ok
    ? result
    : assert.fail(`refused ${JSON.stringify(first)}: ${JSON.stringify(result.errors)}`)
}

test('real names are accepted as people write them', () => {
  for (const name of [
    'Tanaka (Ken)',
    'Henry 8th',
    'Mary\u2011Jane', // non-breaking hyphen
    'Mary\u2010Jane', // hyphen
    'Anne-Marie',
    "O'Brien",
    'O’Connor',
    'St. John',
    'Smith, Jr.',
    'Zoë',
    'Nguyễn',
    'Łukasz',
    'محمد',
    '李',
    'Ngāti',
  ])
    assert.equal(accepted(name).firstName, name)
  // A non-breaking space between words is a space.
  assert.equal(accepted('Jean\u00a0Luc').firstName, 'Jean Luc')
})

test('control characters, invisible characters, symbols and markup are refused', () => {
  for (const name of [
    'Bob\u0000',
    'Bob\u0007',
    'Bob\u200b', // zero-width space
    'Bob\u202e', // right-to-left override
    '<script>',
    'Bob; drop table',
    'Bob 🎉',
    '=cmd()',
    '123',
    '(-)',
  ])
    assert.equal(parseName(name, 'Smith').ok, false, JSON.stringify(name))
})

test('a name over the limit says how long it is; the limit counts characters, not code units', () => {
  const long = parseName('a'.repeat(NAME_MAX_LENGTH + 1), 'Smith')
  assert.equal(long.ok, false)
  if (!long.ok) assert.match(long.errors.firstName ?? '', /60 characters or fewer \(this is 61\)/)
  // 60 letters outside the Basic Multilingual Plane are 120 UTF-16 code units, and still fine.
  assert.equal(parseName('𝒜'.repeat(NAME_MAX_LENGTH), 'Smith').ok, true)
})

test('whatever is typed, parseName answers with a name or a message per field, never throws', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ maxLength: 80 }), (a, b) => {
      const result = parseName(a, b)
      if (result.ok) {
        assert.ok(result.firstName.length > 0 && !/[\p{C}]/u.test(result.firstName + result.lastName))
      } else {
        assert.ok(result.errors.firstName || result.errors.lastName)
      }
    }),
  )
})
