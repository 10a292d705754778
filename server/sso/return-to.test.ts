import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { safeReturnTo } from './sso.service.js'

test('the page to return to after signing in is a path on this site, never another site', () => {
  assert.equal(safeReturnTo('/reception/roll-calls/3'), '/reception/roll-calls/3')
  assert.equal(safeReturnTo('/history?x=1#top'), '/history?x=1#top')
  for (const evil of [
    '//evil.example/x',
    '/\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '\\\\evil.example',
    'https://evil.example/',
    'javascript:alert(1)',
    '',
    '/login/verify',
    undefined,
    42,
  ])
    assert.equal(safeReturnTo(evil), '/', JSON.stringify(evil))
})

test('whatever is given, what comes back a browser reads as a path on this site', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (tail) => {
      for (const value of [tail, `/${tail}`, `//${tail}`, `/\\${tail}`]) {
        const result = safeReturnTo(value)
        assert.equal(new URL(result, 'https://register.example').origin, 'https://register.example')
        assert.ok(result.startsWith('/') && !result.startsWith('//'))
      }
    }),
  )
})
