import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import { stringify } from 'csv-stringify/sync'
import fc from 'fast-check'
import { csvOptions, writeCsvPages } from './export.js'

async function csvOf(pages: object[][], columns: { key: string; header: string }[]): Promise<string> {
  let text = ''
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8')
      done()
    },
  })
  await writeCsvPages(pages, columns as never, out)
  return text
}

// Text where CSV goes wrong: separators, quotes, line ends, formula starts, and any Unicode.
const awkwardText = fc.oneof(
  fc.string({
    unit: fc.constantFrom(
      ',',
      '"',
      '\n',
      '\r',
      '\t',
      '=',
      '+',
      '-',
      '@',
      '＝',
      '＋',
      '－',
      '＠',
      ' ',
      'a',
      'é',
      "'",
    ),
  }),
  fc.string({ unit: 'grapheme' }),
  fc.string(),
)
const value = fc.oneof(
  awkwardText,
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, undefined, true, false, 0, -0),
  fc.date({ noInvalidDate: true }),
)

test('writeCsvPages writes exactly what csv-stringify writes for the same rows, whatever is in them', async () => {
  const columns = ['a', 'b', 'c', 'd'].map((key) => ({ key, header: `col ${key}` }))
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(fc.record({ a: value, b: value, c: value, d: value }), { maxLength: 5 }), {
        maxLength: 4,
      }),
      async (pages) => {
        const expected = stringify(
          [columns.map((c) => c.header), ...pages.flat().map((row) => columns.map((c) => row[c.key as 'a']))],
          csvOptions,
        )
        assert.equal(await csvOf(pages, columns), expected)
      },
    ),
    { numRuns: 500 },
  )
})

test('writeCsvPages: names are quoted or formula-guarded, plain values written as they are', async () => {
  const columns = [
    { key: 'name', header: 'name' },
    { key: 'minutes', header: 'minutes' },
  ]
  const csv = await csvOf(
    [
      [
        { name: 'Cole, Jr', minutes: 480 },
        { name: '=HYPERLINK("x")', minutes: null },
      ],
      [],
      [{ name: 'Amy', minutes: 0 }],
    ],
    columns,
  )
  assert.equal(csv, `name,minutes\n"Cole, Jr",480\n"'=HYPERLINK(""x"")",\nAmy,0\n`)
})
