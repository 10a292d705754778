import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Eta } from 'eta'
import { rememberTemplatePaths } from './template-paths.js'

/** A views folder of `files` (path → template text), removed when the test ends. */
function viewsFolder(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'br-views-'))
  t.after(() => rmSync(root, { recursive: true, force: true }))
  const views = join(root, 'views')
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(views, path, '..'), { recursive: true })
    writeFileSync(join(views, path), text)
  }
  writeFileSync(join(root, 'outside.eta'), 'not a view')
  return views
}

test('remembered template paths: the same name included from two folders is two files, every time', (t) => {
  const views = viewsFolder(t, {
    'a/page.eta': "A <%~ include('./part') %> <%~ include('/shared') %>",
    'a/part.eta': 'a-part',
    'b/page.eta': "B <%~ include('./part') %> <%~ include('/shared') %>",
    'b/part.eta': 'b-part',
    'part.eta': 'top-part',
    'shared.eta': 'shared',
  })
  for (const cache of [true, false]) {
    const eta = rememberTemplatePaths(new Eta({ views, cache }))
    for (let round = 0; round < 3; round++) {
      assert.equal(eta.render('a/page', {}), 'A a-part shared', `a/page, round ${round}, cache ${cache}`)
      assert.equal(eta.render('b/page', {}), 'B b-part shared', `b/page, round ${round}, cache ${cache}`)
      assert.equal(eta.render('./part', {}), 'top-part', `a page named like a partial, round ${round}`)
    }
  }
})

test('remembered template paths: a template outside the views folder is refused every time', (t) => {
  const views = viewsFolder(t, { 'page.eta': "<%~ include('../outside') %>", 'ok.eta': 'ok' })
  const eta = rememberTemplatePaths(new Eta({ views, cache: true }))
  for (let round = 0; round < 2; round++) {
    assert.throws(() => eta.render('page', {}), /not in the views directory/, `include, round ${round}`)
    assert.throws(() => eta.render('../outside', {}), /not in the views directory/, `render, round ${round}`)
  }
  assert.equal(eta.render('ok', {}), 'ok')
})

test('remembered template paths follow a change of views folder', (t) => {
  const first = viewsFolder(t, { 'page.eta': 'first' })
  const second = viewsFolder(t, { 'page.eta': 'second' })
  const eta = rememberTemplatePaths(new Eta({ views: first }))
  assert.equal(eta.render('page', {}), 'first')
  eta.configure({ views: second })
  assert.equal(eta.render('page', {}), 'second')
})
