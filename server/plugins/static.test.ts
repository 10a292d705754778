import assert from 'node:assert/strict'
import { test } from 'node:test'
import { buildTestApp, loginAs } from '../testing/build-test-app.js'

test('pages link to fingerprinted static files, cached for a year; a plain or outdated URL is revalidated', async (t) => {
  const ctx = await buildTestApp(t)
  const page = await ctx.app.inject({ url: '/login' })
  const links = [...page.body.matchAll(/(?:href|src)="(\/static\/[^"]+)"/g)].map((m) => m[1]!)
  assert.ok(links.length >= 4, `links: ${links.join(' ')}`)
  for (const link of links) {
    assert.match(link, /\?v=[\w-]{12}$/, link)
    const file = await ctx.app.inject({ url: link })
    assert.equal(file.statusCode, 200, link)
    assert.equal(file.headers['cache-control'], 'public, max-age=31536000, immutable', link)
  }
  const css = links.find((l) => l.startsWith('/static/app.css'))!
  for (const url of ['/static/app.css', '/static/app.css?v=outdated0000']) {
    const file = await ctx.app.inject({ url })
    assert.equal(file.statusCode, 200)
    assert.equal(file.headers['cache-control'], 'no-cache', url)
    assert.ok(file.headers.etag, 'a validator to revalidate with')
  }
  const again = await ctx.app.inject({
    url: css,
    headers: { 'if-none-match': String((await ctx.app.inject({ url: css })).headers.etag) },
  })
  assert.equal(again.statusCode, 304)
})

test('a person’s own pages are private and revalidated, not no-store (the back/forward cache keeps them)', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  for (const url of ['/', '/history', '/profile']) {
    const response = await browser.get(url)
    assert.equal(response.statusCode, 200, url)
    assert.equal(response.headers['cache-control'], 'private, no-cache', url)
  }
})

test('every page has a meta description', async (t) => {
  const ctx = await buildTestApp(t)
  const browser = await loginAs(ctx, 'alice@example.org')
  for (const url of ['/', '/history', '/profile', '/kiosk']) {
    const response = await browser.get(url)
    assert.match(response.body, /<meta name="description" content="[^"]{20,}">/, url)
  }
  const login = await ctx.app.inject({ url: '/login' })
  assert.match(login.body, /<meta name="description" content="[^"]{20,}">/)
})
