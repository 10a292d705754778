import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { retentionRules } from '../retention/retention.js'
import { buildTestApp, testConfig } from '../testing/build-test-app.js'
import { RETENTION_NOTICE } from './notice.js'

test('the notice describes every table the purge clears (a new retention rule must say what it keeps)', () => {
  const missing = retentionRules.map((r) => r.table).filter((table) => !(table in RETENTION_NOTICE))
  assert.deepEqual(missing, [], `describe these in RETENTION_NOTICE (server/privacy/notice.ts): ${missing}`)
})

test('/privacy is public, linked from the login page, and its periods are the retention settings', async (t) => {
  const { app } = await buildTestApp(t, { env: { RETENTION_DAYS: '45', VISITOR_RETENTION_DAYS: '7' } })
  const login = await app.inject({ method: 'GET', url: '/login' })
  assert.match(login.body, /<a href="\/privacy">Privacy notice<\/a>/)
  const page = await app.inject({ method: 'GET', url: '/privacy' })
  assert.equal(page.statusCode, 200)
  assert.match(page.body, /<h1>Privacy notice<\/h1>/)
  assert.match(page.body, /Your visits[^<]*<\/td><td data-label="How long">45 days after the visit/)
  assert.match(page.body, /Visitors:[^<]*<\/td><td data-label="How long">7 days after the visit/)
  assert.match(page.body, /ask an administrator of this register/)
})

test('the operator’s own text and contact replace the default introduction (escaped)', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'notice-')), 'notice.txt')
  writeFileSync(file, 'Acme Ltd is the controller.\n\nWe keep <b>little</b>.\n')
  const { app } = await buildTestApp(t, {
    env: { PRIVACY_NOTICE_FILE: file, PRIVACY_CONTACT: 'dpo@acme.example' },
  })
  const page = await app.inject({ method: 'GET', url: '/privacy' })
  assert.match(
    page.body,
    /<p>Acme Ltd is the controller\.<\/p>\s*<p>We keep &lt;b&gt;little&lt;\/b&gt;\.<\/p>/,
  )
  assert.doesNotMatch(page.body, /so that everyone can be accounted for/)
  assert.match(page.body, /ask dpo@acme\.example/)
  assert.match(page.body, /90 days after the visit/)
  assert.throws(() => testConfig({ PRIVACY_NOTICE_FILE: '/nonexistent/notice.txt' }), /PRIVACY_NOTICE_FILE/)
})
