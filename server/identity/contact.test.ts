import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { maskContact, parseContact } from './contact.js'
import { parseName } from './person.js'

test('emails are trimmed and lower-cased; phone numbers become E.164 in the default region', () => {
  assert.deepEqual(parseContact('  Alice.Smith@Example.ORG ', 'GB'), {
    ok: true,
    contact: { kind: 'email', value: 'alice.smith@example.org' },
  })
  for (const input of ['07400 123456', '+44 7400 123456', '(07400) 123-456', '0044 7400 123456']) {
    assert.deepEqual(
      parseContact(input, 'GB'),
      { ok: true, contact: { kind: 'phone', value: '+447400123456' } },
      input,
    )
  }
  assert.deepEqual(parseContact('0612345678', 'FR'), {
    ok: true,
    contact: { kind: 'phone', value: '+33612345678' },
  })
})

test('invalid contacts get a clear message', () => {
  const message = (input: string) => {
    const r = parseContact(input, 'GB')
    return r.ok ? 'ok' : r.message
  }
  assert.equal(message('0740012'), 'That does not look like a mobile number.')
  assert.match(message('020 7946 0000'), /landline/)
  assert.equal(message('alice@'), 'That does not look like an email address.')
  assert.equal(message(''), 'Enter your email address or mobile number.')
  assert.match(message('call me maybe'), /digits only/)
})

test('parsing never throws and always yields a canonical contact or a message', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (input) => {
      const r = parseContact(input, 'GB')
      if (r.ok) {
        assert.ok(
          r.contact.kind === 'email'
            ? r.contact.value === r.contact.value.toLowerCase()
            : /^\+\d{8,15}$/.test(r.contact.value),
        )
        assert.deepEqual(parseContact(r.contact.value, 'GB'), r, 'normalising is idempotent')
      } else {
        assert.ok(r.message.length > 0)
      }
    }),
  )
})

test('masking hides most of a contact', () => {
  assert.equal(maskContact('alice@example.org'), 'a••••@example.org')
  assert.equal(maskContact('+447400123456'), '+44•••••••456')
})

test('names are trimmed and checked per field', () => {
  assert.deepEqual(parseName('  Jean-Luc ', " O'Brien  "), {
    ok: true,
    firstName: 'Jean-Luc',
    lastName: "O'Brien",
  })
  assert.deepEqual(parseName('Zoë', 'Ng'), { ok: true, firstName: 'Zoë', lastName: 'Ng' })
  const bad = parseName('', '<script>')
  assert.equal(bad.ok, false)
  if (!bad.ok) {
    assert.equal(bad.errors.firstName, 'Enter your first name.')
    assert.match(bad.errors.lastName ?? '', /can contain letters, numbers/)
  }
  assert.equal(parseName('a'.repeat(61), 'b').ok, false)
})
